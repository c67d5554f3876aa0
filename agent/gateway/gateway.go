// Package gateway sets up the node's gateway: an OVS internal port on br-int that connects the pipeline to the
// node's host stack. It carries the first address of the pod CIDR, so the host routes the pod CIDR into br-int
// and pods route everything else to it.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/switchyard-net/switchyard/cni/podnet"
	"github.com/switchyard-net/switchyard/ovs/ovsdb"
)

// OFPort is the ofport requested for the gateway, so flows are readable across nodes.
const OFPort = 2

// Ports is what the gateway needs from OVSDB.
type Ports interface {
	EnsurePort(ctx context.Context, spec ovsdb.PortSpec) error
	WaitOfport(ctx context.Context, name string) (int32, error)
}

// Gateway is the configured gateway.
type Gateway struct {
	Name   string
	IP     net.IP
	MAC    net.HardwareAddr
	OFPort int32
}

// FirstIP is the gateway address of a pod CIDR: its first usable address.
func FirstIP(cidr *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	copy(ip, cidr.IP.To4())
	ip[3]++
	return ip
}

// Ensure creates (or keeps) the gateway port with a MAC derived from its IP, waits for its ofport and device, and
// configures the address, MTU and link state in this network namespace. It never removes addresses another
// component added, and is a no-op when everything is already in place (an agent restart must not disturb
// traffic).
func Ensure(ctx context.Context, ports Ports, bridge, name string, podCIDR *net.IPNet, mtu int) (*Gateway, error) {
	gw := &Gateway{Name: name, IP: FirstIP(podCIDR)}
	gw.MAC = podnet.PodMAC(gw.IP)
	err := ports.EnsurePort(ctx, ovsdb.PortSpec{Bridge: bridge, Name: name, Type: "internal", OfportRequest: OFPort,
		MAC: gw.MAC.String(), MTURequest: mtu,
		ExternalIDs: map[string]string{"switchyard.io/owner": "switchyard", "switchyard.io/kind": "gateway"}})
	if err != nil {
		return nil, fmt.Errorf("gateway port %s: %w", name, err)
	}
	if gw.OFPort, err = ports.WaitOfport(ctx, name); err != nil {
		return nil, fmt.Errorf("gateway port %s: %w", name, err)
	}
	link, err := WaitDevice(ctx, name)
	if err != nil {
		return nil, err
	}
	if link.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return nil, fmt.Errorf("gateway %s: set MTU %d: %w", name, mtu, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.IP, Mask: podCIDR.Mask}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return nil, fmt.Errorf("gateway %s: address %s: %w", name, addr.IPNet, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("gateway %s: set up: %w", name, err)
		}
	}
	return gw, nil
}

// WaitDevice waits for vswitchd to create the kernel device of an internal port or a bridge's local port.
func WaitDevice(ctx context.Context, name string) (netlink.Link, error) {
	for {
		link, err := netlink.LinkByName(name)
		if err == nil {
			return link, nil
		}
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("gateway %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gateway device %s did not appear: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
