package workload

import (
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
)

// inNetns runs fn on an OS thread in the network namespace at path (the current one when path is empty). Sockets
// fn creates stay in that namespace afterwards.
func inNetns(path string, fn func()) error {
	if path == "" {
		fn()
		return nil
	}
	if err := ns.WithNetNSPath(path, func(ns.NetNS) error { fn(); return nil }); err != nil {
		return fmt.Errorf("workload: entering network namespace %s: %w", path, err)
	}
	return nil
}
