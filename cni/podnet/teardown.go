package podnet

import (
	"errors"
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Teardown removes a pod's veth pair. It deletes the veth hostIfName in the calling thread's
// netns (which removes both ends), then makes sure ifName is gone from the pod netns at
// netnsPath too, in case the host end had been lost. It is idempotent: an empty or vanished
// netns path, or interfaces that no longer exist, are success. An interface with one of the
// names that is not a veth is not Switchyard's and is left alone.
func Teardown(netnsPath, ifName, hostIfName string) error {
	if hostIfName != "" {
		if _, err := deleteVeth(hostIfName); err != nil {
			return fmt.Errorf("podnet teardown: %w", err)
		}
	}
	if netnsPath == "" || ifName == "" {
		return nil
	}
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		_, err := deleteVeth(ifName)
		return err
	})
	var notExist ns.NSPathNotExistErr
	var notNS ns.NSPathNotNSErr
	if errors.As(err, &notExist) || errors.As(err, &notNS) {
		return nil // the pod's netns is already gone, and with it the pod interface
	}
	if err != nil {
		return fmt.Errorf("podnet teardown: pod netns %s: %w", netnsPath, err)
	}
	return nil
}
