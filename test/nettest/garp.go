package nettest

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	garpCount = 2                     // gratuitous ARPs sent per call
	garpGap   = 10 * time.Millisecond // pause between them
	minFrame  = 60                    // minimum Ethernet frame without FCS
)

// SendGratuitousARP announces ip at mac by sending gratuitous ARP requests (sender and target
// address both ip, broadcast destination) out of ifName in the pod netns at netnsPath, as a pod (or a pod
// impersonating another) would. ifName must be up. (The agent announces no pod: their MACs derive from their
// addresses.)
func SendGratuitousARP(netnsPath, ifName string, ip net.IP, mac net.HardwareAddr) error {
	ip4 := ip.To4()
	if ip4 == nil {
		return fmt.Errorf("gratuitous ARP on %q: %v is not an IPv4 address", ifName, ip)
	}
	if len(mac) != 6 {
		return fmt.Errorf("gratuitous ARP on %q: %v is not a 6-byte MAC", ifName, mac)
	}
	frame := GARPFrame(ip4, mac)
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("look up interface: %w", err)
		}
		// Protocol 0: this socket only sends and never receives anything.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open packet socket: %w", err)
		}
		defer unix.Close(fd)
		dst := &unix.SockaddrLinklayer{
			Protocol: htons(unix.ETH_P_ARP),
			Ifindex:  link.Attrs().Index,
			Halen:    6,
			Addr:     [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		}
		for i := range garpCount {
			if i > 0 {
				time.Sleep(garpGap)
			}
			if err := unix.Sendto(fd, frame, 0, dst); err != nil {
				return fmt.Errorf("send: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gratuitous ARP for %s on %q in %s: %w", ip4, ifName, netnsPath, err)
	}
	return nil
}

// GARPFrame builds a broadcast Ethernet frame carrying an ARP request in which both the sender
// and the target protocol address are ip (RFC 5227 "ARP Announcement"), padded to 60 bytes.
func GARPFrame(ip net.IP, mac net.HardwareAddr) []byte {
	f := make([]byte, minFrame)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // destination
	copy(f[6:12], mac)                                       // source
	binary.BigEndian.PutUint16(f[12:14], unix.ETH_P_ARP)
	arp := f[14:]
	binary.BigEndian.PutUint16(arp[0:2], 1)             // hardware type Ethernet
	binary.BigEndian.PutUint16(arp[2:4], unix.ETH_P_IP) // protocol type IPv4
	arp[4], arp[5] = 6, 4                               // address lengths
	binary.BigEndian.PutUint16(arp[6:8], 1)             // operation: request
	copy(arp[8:14], mac)                                // sender hardware address
	copy(arp[14:18], ip.To4())                          // sender protocol address
	copy(arp[24:28], ip.To4())                          // target protocol address; target MAC stays zero
	return f
}

// htons converts a 16-bit value to network byte order as the socket API expects it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
