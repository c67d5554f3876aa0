// Package transport finds the node's transport interface (the one that carries traffic between nodes), derives the
// pod MTU from it, and on the userspace (netdev) datapath prepares what OVS's native tunnels need: the node's
// address on an OVS bridge of the same datapath (the physical bridge, br-phy), which takes the interface as a port.
package transport

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Interface is the node's transport interface.
type Interface struct {
	// Name is the network device that reaches the other nodes (the NIC). After PrepareNetdev it is a port of the
	// physical bridge and holds no address.
	Name string
	// Addr is the node's transport address with the prefix of its subnet: peers in that subnet are on-link.
	Addr *net.IPNet
	// MTU is the device's MTU.
	MTU int
	// Bridge is the physical bridge that holds Addr on the netdev datapath, or empty if Name holds it.
	Bridge string
}

// IPv6 says whether the underlay is IPv6 (the encapsulation costs 20 bytes more).
func (i *Interface) IPv6() bool { return i.Addr.IP.To4() == nil }

// OnLink says whether ip is in the transport subnet.
func (i *Interface) OnLink(ip net.IP) bool { return i.Addr.Contains(ip) }

// Host is the part of the host's network configuration Find reads; netlinkHost implements it.
type Host interface {
	LinkByName(name string) (netlink.Link, error)
	LinkByIndex(index int) (netlink.Link, error)
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	RouteList(link netlink.Link, family int) ([]netlink.Route, error)
}

type netlinkHost struct{}

func (netlinkHost) LinkByName(name string) (netlink.Link, error) { return netlink.LinkByName(name) }
func (netlinkHost) LinkByIndex(i int) (netlink.Link, error)      { return netlink.LinkByIndex(i) }
func (netlinkHost) AddrList(l netlink.Link, f int) ([]netlink.Addr, error) {
	return netlink.AddrList(l, f)
}
func (netlinkHost) RouteList(l netlink.Link, f int) ([]netlink.Route, error) {
	return netlink.RouteList(l, f)
}

// NetlinkHost reads this network namespace.
var NetlinkHost Host = netlinkHost{}

// Finder says where to look for the transport interface.
type Finder struct {
	Host Host
	// Configured is the transportInterface option; empty means auto-detection.
	Configured string
	// NodeIP is the node's InternalIP (nil in standalone use).
	NodeIP net.IP
	// PhysicalBridge is the netdev bridge that may already hold the address (after an earlier PrepareNetdev).
	PhysicalBridge string
	// BridgePorts lists the ports of a bridge (from OVSDB), to find the NIC behind the physical bridge.
	BridgePorts func(bridge string) []string
}

// Find returns the transport interface: the configured one, else the one holding NodeIP, else the one of the
// default route. When the address lives on the physical bridge (the agent moved it there on an earlier start),
// the interface is the bridge's port.
func (f Finder) Find() (*Interface, error) {
	h := f.Host
	if h == nil {
		h = NetlinkHost
	}
	if f.Configured != "" {
		link, err := h.LinkByName(f.Configured)
		if err != nil {
			return nil, fmt.Errorf("transportInterface %q: %w", f.Configured, err)
		}
		addr, err := pickAddr(h, link, f.NodeIP)
		if err != nil {
			return nil, err
		}
		if addr == nil { // moved to the physical bridge already?
			if br := f.bridgeOf(h, f.Configured); br != nil {
				if addr, err = pickAddr(h, br, f.NodeIP); err != nil {
					return nil, err
				}
				if addr != nil {
					return &Interface{Name: f.Configured, Addr: addr, MTU: link.Attrs().MTU, Bridge: f.PhysicalBridge}, nil
				}
			}
			return nil, fmt.Errorf("transportInterface %q has no global address (nor has the physical bridge %q)", f.Configured, f.PhysicalBridge)
		}
		return &Interface{Name: f.Configured, Addr: addr, MTU: link.Attrs().MTU}, nil
	}
	var link netlink.Link
	var addr *net.IPNet
	var err error
	if f.NodeIP != nil {
		link, addr, err = linkHolding(h, f.NodeIP)
		if err != nil {
			return nil, err
		}
		if link == nil {
			return nil, fmt.Errorf("no interface holds the node's InternalIP %s (set transportInterface)", f.NodeIP)
		}
	} else {
		link, err = defaultRouteLink(h)
		if err != nil {
			return nil, err
		}
		if addr, err = pickAddr(h, link, nil); err != nil {
			return nil, err
		}
		if addr == nil {
			return nil, fmt.Errorf("interface %s of the default route has no global address (set transportInterface)", link.Attrs().Name)
		}
	}
	name := link.Attrs().Name
	if name != f.PhysicalBridge || f.PhysicalBridge == "" {
		return &Interface{Name: name, Addr: addr, MTU: link.Attrs().MTU}, nil
	}
	// The address is on the physical bridge: the transport interface is its port.
	nic, err := f.nicOfBridge()
	if err != nil {
		return nil, err
	}
	nicLink, err := h.LinkByName(nic)
	if err != nil {
		return nil, fmt.Errorf("port %s of bridge %s: %w", nic, f.PhysicalBridge, err)
	}
	return &Interface{Name: nic, Addr: addr, MTU: nicLink.Attrs().MTU, Bridge: f.PhysicalBridge}, nil
}

// bridgeOf returns the physical bridge's link if port is one of its ports.
func (f Finder) bridgeOf(h Host, port string) netlink.Link {
	if f.PhysicalBridge == "" || f.BridgePorts == nil {
		return nil
	}
	for _, p := range f.BridgePorts(f.PhysicalBridge) {
		if p == port {
			if br, err := h.LinkByName(f.PhysicalBridge); err == nil {
				return br
			}
		}
	}
	return nil
}

// nicOfBridge returns the physical bridge's one port other than its local port.
func (f Finder) nicOfBridge() (string, error) {
	var nics []string
	if f.BridgePorts != nil {
		for _, p := range f.BridgePorts(f.PhysicalBridge) {
			if p != f.PhysicalBridge {
				nics = append(nics, p)
			}
		}
	}
	if len(nics) != 1 {
		return "", fmt.Errorf("the node address is on bridge %s, which has ports %v: want exactly one interface (set transportInterface)",
			f.PhysicalBridge, nics)
	}
	return nics[0], nil
}

// pickAddr returns the link's address that is ip (if ip is set and the link has it), else its first global IPv4
// address, else its first global IPv6 address; nil if it has none.
func pickAddr(h Host, link netlink.Link, ip net.IP) (*net.IPNet, error) {
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", link.Attrs().Name, err)
	}
	var v4, v6 *net.IPNet
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		if ip != nil && a.IP.Equal(ip) {
			return a.IPNet, nil
		}
		if a.IP.To4() != nil && v4 == nil {
			v4 = a.IPNet
		} else if a.IP.To4() == nil && v6 == nil {
			v6 = a.IPNet
		}
	}
	if v4 != nil {
		return v4, nil
	}
	return v6, nil
}

// linkHolding returns the link that has ip as an address, and the address with its prefix.
func linkHolding(h Host, ip net.IP) (netlink.Link, *net.IPNet, error) {
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, nil, fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			link, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return nil, nil, fmt.Errorf("interface of address %s: %w", ip, err)
			}
			return link, a.IPNet, nil
		}
	}
	return nil, nil, nil
}

// defaultRouteLink returns the interface of the IPv4 (else IPv6) default route.
func defaultRouteLink(h Host) (netlink.Link, error) {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, family)
		if err != nil {
			return nil, fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			if isDefault(r.Dst) && r.LinkIndex > 0 {
				return h.LinkByIndex(r.LinkIndex)
			}
		}
	}
	return nil, errors.New("no default route and no node InternalIP to find the transport interface (set transportInterface)")
}

func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}

// PhysicalBridgeMAC is the MAC of the physical bridge of the node with transport address ip: 0a:00 followed by the
// last four bytes of the address. Every node derives its own and its peers' from the address, so the tunnel
// neighbour cache can be seeded without asking the peers; it differs from the NIC's MAC (a bridge that shares its
// NIC's MAC makes the kernel take the tunnel packets too).
func PhysicalBridgeMAC(ip net.IP) net.HardwareAddr {
	b := ip.To16()
	return net.HardwareAddr{0x0a, 0x00, b[12], b[13], b[14], b[15]}
}
