package podnet

import (
	"bytes"
	"fmt"
	"net"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Check verifies that the pod interface described by cfg is still as Setup left it: the host
// veth exists in the calling thread's netns (veth, up, NOARP, MTU) and its peer is cfg.IfName in
// the pod netns at netnsPath, which has cfg's MAC, MTU, address and default route, is up and,
// with TxChecksumOff, has tx checksum offload off. The error names the first difference.
func Check(netnsPath string, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("podnet check %s: %w", cfg.HostIfName, err)
	}
	host, err := checkHostSide(cfg)
	if err != nil {
		return fmt.Errorf("podnet check: %w", err)
	}
	err = ns.WithNetNSPath(netnsPath, func(ns.NetNS) error { return checkPodSide(cfg, host.Attrs().ParentIndex) })
	if err != nil {
		return fmt.Errorf("podnet check: pod netns %s: %w", netnsPath, err)
	}
	return nil
}

func checkHostSide(cfg Config) (netlink.Link, error) {
	link, err := findLink(cfg.HostIfName)
	switch a := attrsOf(link); {
	case err != nil:
		return nil, err
	case link == nil:
		return nil, fmt.Errorf("host veth %q does not exist", cfg.HostIfName)
	case link.Type() != vethType:
		return nil, fmt.Errorf("host interface %q is a %s, not a veth", cfg.HostIfName, link.Type())
	case a.Flags&net.FlagUp == 0:
		return nil, fmt.Errorf("host veth %q is down", cfg.HostIfName)
	case a.RawFlags&unix.IFF_NOARP == 0:
		return nil, fmt.Errorf("host veth %q answers ARP (NOARP is not set)", cfg.HostIfName)
	case a.MTU != cfg.MTU:
		return nil, fmt.Errorf("host veth %q has MTU %d, want %d", cfg.HostIfName, a.MTU, cfg.MTU)
	}
	return link, nil
}

// checkPodSide runs in the pod netns; peerIndex is the host veth's peer ifindex.
func checkPodSide(cfg Config, peerIndex int) error {
	link, err := findLink(cfg.IfName)
	a := attrsOf(link)
	switch {
	case err != nil:
		return err
	case link == nil:
		return fmt.Errorf("pod interface %q does not exist", cfg.IfName)
	case link.Type() != vethType:
		return fmt.Errorf("pod interface %q is a %s, not a veth", cfg.IfName, link.Type())
	case a.Index != peerIndex:
		return fmt.Errorf("pod interface %q (ifindex %d) is not the peer of host veth %q (peer ifindex %d)",
			cfg.IfName, a.Index, cfg.HostIfName, peerIndex)
	case !bytes.Equal(a.HardwareAddr, cfg.MAC):
		return fmt.Errorf("pod interface %q has MAC %s, want %s", cfg.IfName, a.HardwareAddr, cfg.MAC)
	case a.MTU != cfg.MTU:
		return fmt.Errorf("pod interface %q has MTU %d, want %d", cfg.IfName, a.MTU, cfg.MTU)
	case a.Flags&net.FlagUp == 0:
		return fmt.Errorf("pod interface %q is down", cfg.IfName)
	}
	if err := checkPodAddress(link, cfg); err != nil {
		return err
	}
	if err := checkDefaultRoute(link, cfg); err != nil {
		return err
	}
	if cfg.TxChecksumOff {
		on, err := txChecksum(cfg.IfName)
		if err != nil {
			return err
		}
		if on {
			return fmt.Errorf("pod interface %q has tx checksum offload on, want off", cfg.IfName)
		}
	}
	return nil
}

func checkPodAddress(link netlink.Link, cfg Config) error {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list addresses of pod interface %q: %w", cfg.IfName, err)
	}
	for _, a := range addrs {
		if a.IP.Equal(cfg.IP.IP) && bytes.Equal(a.Mask, cfg.IP.Mask) {
			return nil
		}
	}
	return fmt.Errorf("pod interface %q does not have address %s (has %v)", cfg.IfName, cfg.IP, addrs)
}

func checkDefaultRoute(link netlink.Link, cfg Config) error {
	routes, err := retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(link, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list routes of pod interface %q: %w", cfg.IfName, err)
	}
	for _, r := range routes {
		if isDefault(r.Dst) && r.Gw.Equal(cfg.Gateway) {
			return nil
		}
	}
	return fmt.Errorf("pod interface %q has no default route via %s", cfg.IfName, cfg.Gateway)
}

// isDefault reports whether dst denotes the default route (netlink reports it as nil or /0).
func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}

func attrsOf(link netlink.Link) *netlink.LinkAttrs {
	if link == nil {
		return &netlink.LinkAttrs{}
	}
	return link.Attrs()
}
