// Package podnet plumbs a pod's network interface: the veth pair between the pod's network
// namespace and the node's, the pod's address, MAC, MTU and default route, and the settings
// OVS's userspace datapath needs (NOARP on the node side, tx checksum offload off in the pod).
//
// Functions that touch the node side act on the network namespace of the calling OS thread:
// call them from the node's netns (the process's own, or inside ns.Do / ns.WithNetNSPath).
// The pod's netns is always given as a path (/var/run/netns/<name>, /proc/<pid>/ns/net).
package podnet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
)

// maxIfNameLen is the longest interface name Linux accepts (IFNAMSIZ - 1).
const maxIfNameLen = 15

// hostVethPrefix starts the name of every node-side veth Switchyard creates.
const hostVethPrefix = "sy"

// HostVethName is the node-side veth name for a pod interface: "sy" followed by the first
// 12 hex digits of sha256(containerID + "/" + ifName). It is deterministic, so an agent that
// lost its state can still find the veth, and 14 characters long. Interface names cannot
// contain "/", so distinct (containerID, ifName) pairs hash distinct strings.
func HostVethName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifName))
	return hostVethPrefix + hex.EncodeToString(sum[:6])
}

// PodMAC is the deterministic, locally administered MAC of a pod address: 0a:58 followed by
// the four bytes of the IPv4 address (the OVN/Antrea convention), e.g. 10.244.1.5 gives
// 0a:58:0a:f4:01:05. For an IPv6 address the last four bytes are used; nil for an invalid IP.
func PodMAC(ip net.IP) net.HardwareAddr {
	mac := net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 0}
	switch {
	case ip.To4() != nil:
		copy(mac[2:], ip.To4())
	case len(ip) == net.IPv6len:
		copy(mac[2:], ip[12:])
	default:
		return nil
	}
	return mac
}

// validIfName checks name against the kernel's rules for interface names (dev_valid_name).
func validIfName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty")
	case len(name) > maxIfNameLen:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, maxIfNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("interface name %q contains '/', ':' or whitespace", name)
	}
	return nil
}
