package podnet

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vethType is what netlink reports as the Type() of a veth link.
const vethType = "veth"

// dumpRetries bounds how often a netlink dump interrupted by a concurrent change is retried.
const dumpRetries = 5

// isNotFound reports whether err says a link does not exist.
func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// findLink returns the link called name in the calling thread's netns, or nil if there is none.
func findLink(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up interface %q: %w", name, err)
	}
	return link, nil
}

// deleteVeth deletes the veth called name in the calling thread's netns, which also removes
// its peer. A missing link is not an error; a link of another type is left alone (it is not
// one of ours) and reported by ok=false.
func deleteVeth(name string) (ok bool, err error) {
	link, err := findLink(name)
	if err != nil || link == nil {
		return err == nil, err
	}
	if link.Type() != vethType {
		return false, nil
	}
	if err := netlink.LinkDel(link); err != nil && !isNotFound(err) {
		return false, fmt.Errorf("delete veth %q: %w", name, err)
	}
	return true, nil
}

// disableIPv6 turns IPv6 off on ifName in the calling thread's netns so it gets no link-local
// address. Nothing to do when the kernel or the netns has no IPv6.
func disableIPv6(ifName string) error {
	path := "/proc/sys/net/ipv6/conf/" + ifName + "/disable_ipv6"
	err := os.WriteFile(path, []byte("1"), 0o644)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("disable IPv6 on %q: %w", ifName, err)
	}
	return nil
}

// retryDump runs a netlink dump again while the kernel reports it was interrupted by a
// concurrent change (the partial result is not trustworthy then).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var out []T
	var err error
	for range dumpRetries {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}
