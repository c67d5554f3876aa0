package podnet

import (
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Config describes one pod interface.
type Config struct {
	ContainerID string
	IfName      string           // interface name inside the pod, e.g. "eth0"
	HostIfName  string           // node-side veth name, normally HostVethName(ContainerID, IfName)
	IP          *net.IPNet       // pod address with the pod CIDR's prefix length, e.g. 10.244.1.5/24
	Gateway     net.IP           // default gateway; must be inside IP's subnet
	MAC         net.HardwareAddr // pod interface MAC, normally PodMAC(IP.IP)
	MTU         int              // MTU of both ends
	// TxChecksumOff disables tx checksum offload on the pod interface. OVS's userspace
	// datapath needs it: it never completes partial checksums read over AF_PACKET.
	TxChecksumOff bool
}

func (c Config) validate() error {
	if err := validIfName(c.IfName); err != nil {
		return fmt.Errorf("pod interface: %w", err)
	}
	if err := validIfName(c.HostIfName); err != nil {
		return fmt.Errorf("host interface: %w", err)
	}
	if c.IP == nil || c.IP.IP.To4() == nil {
		return fmt.Errorf("pod address %v is not an IPv4 address", c.IP)
	}
	if ones, bits := c.IP.Mask.Size(); bits != 32 || ones == 0 {
		return fmt.Errorf("pod address %v needs an IPv4 prefix length between 1 and 32", c.IP)
	}
	if c.Gateway.To4() == nil {
		return fmt.Errorf("gateway %v is not an IPv4 address", c.Gateway)
	}
	if c.Gateway.Equal(c.IP.IP) {
		return fmt.Errorf("gateway %v is the pod's own address", c.Gateway)
	}
	if len(c.MAC) != 6 || c.MAC[0]&1 != 0 {
		return fmt.Errorf("MAC %v is not a 6-byte unicast address", c.MAC)
	}
	if c.MTU < 68 || c.MTU > 65535 {
		return fmt.Errorf("MTU %d is outside 68..65535", c.MTU)
	}
	return nil
}

// Attachment describes a pod interface Setup created.
type Attachment struct {
	HostIfName string
	HostMAC    net.HardwareAddr
	HostIndex  int // ifindex in the node's netns
	PodIfName  string
	PodMAC     net.HardwareAddr
	PodIndex   int // ifindex in the pod's netns
}

// Setup creates the pod's veth pair: cfg.IfName inside the pod netns at netnsPath (MAC, MTU,
// address, up, default route via cfg.Gateway, optionally tx checksum off) and cfg.HostIfName in
// the calling thread's netns (MTU, NOARP, IPv6 off so it holds no address, up, not attached to
// anything). A node-side veth left over with the same name is deleted first. If any step fails
// the pair is deleted again, so a failed Setup leaves no veth in either netns.
func Setup(netnsPath string, cfg Config) (*Attachment, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("podnet setup %s: %w", cfg.HostIfName, err)
	}
	att, err := setup(netnsPath, cfg)
	if err != nil {
		return nil, fmt.Errorf("podnet setup %s (pod %s in %s): %w", cfg.HostIfName, cfg.IfName, netnsPath, err)
	}
	return att, nil
}

func setup(netnsPath string, cfg Config) (att *Attachment, err error) {
	podNS, err := ns.GetNS(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("open pod netns: %w", err)
	}
	defer podNS.Close()
	hostNS, err := ns.GetCurrentNS()
	if err != nil {
		return nil, fmt.Errorf("open node netns: %w", err)
	}
	defer hostNS.Close()

	if ok, err := deleteVeth(cfg.HostIfName); err != nil {
		return nil, fmt.Errorf("remove leftover host veth: %w", err)
	} else if !ok {
		return nil, fmt.Errorf("host interface %q exists and is not a veth", cfg.HostIfName)
	}

	var pod netlink.Link
	err = podNS.Do(func(ns.NetNS) error {
		pod, err = createVeth(cfg, hostNS)
		return err
	})
	if err != nil {
		return nil, err // creating the pair is atomic: nothing to undo
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, undoVeth(podNS, cfg))
		}
	}()

	host, err := configureHostSide(cfg)
	if err != nil {
		return nil, err
	}
	if err := podNS.Do(func(ns.NetNS) error { return configurePodSide(cfg) }); err != nil {
		return nil, err
	}
	return &Attachment{
		HostIfName: cfg.HostIfName,
		HostMAC:    host.Attrs().HardwareAddr,
		HostIndex:  host.Attrs().Index,
		PodIfName:  cfg.IfName,
		PodMAC:     pod.Attrs().HardwareAddr,
		PodIndex:   pod.Attrs().Index,
	}, nil
}

// createVeth runs in the pod netns: it creates cfg.IfName (down) with its peer
// cfg.HostIfName placed directly in hostNS.
func createVeth(cfg Config, hostNS ns.NetNS) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = cfg.IfName
	attrs.MTU = cfg.MTU
	attrs.HardwareAddr = cfg.MAC
	veth := &netlink.Veth{
		LinkAttrs:     attrs,
		PeerName:      cfg.HostIfName,
		PeerMTU:       uint32(cfg.MTU),
		PeerNamespace: netlink.NsFd(int(hostNS.Fd())),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth pair (pod %q, host %q): %w", cfg.IfName, cfg.HostIfName, err)
	}
	pod, err := netlink.LinkByName(cfg.IfName)
	if err != nil {
		_ = netlink.LinkDel(veth)
		return nil, fmt.Errorf("look up new pod interface %q: %w", cfg.IfName, err)
	}
	return pod, nil
}

// configureHostSide runs in the node netns. NOARP comes before up: the node kernel must never
// answer the pod's ARP requests on a veth that OVS owns.
func configureHostSide(cfg Config) (netlink.Link, error) {
	link, err := netlink.LinkByName(cfg.HostIfName)
	if err != nil {
		return nil, fmt.Errorf("look up host veth %q: %w", cfg.HostIfName, err)
	}
	if err := netlink.LinkSetARPOff(link); err != nil {
		return nil, fmt.Errorf("set arp off on host veth %q: %w", cfg.HostIfName, err)
	}
	if err := disableIPv6(cfg.HostIfName); err != nil {
		return nil, err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("set host veth %q up: %w", cfg.HostIfName, err)
	}
	return netlink.LinkByName(cfg.HostIfName) // re-read for the MAC and flags
}

// configurePodSide runs in the pod netns.
func configurePodSide(cfg Config) error {
	link, err := netlink.LinkByName(cfg.IfName)
	if err != nil {
		return fmt.Errorf("look up pod interface %q: %w", cfg.IfName, err)
	}
	if cfg.TxChecksumOff {
		if err := setTxChecksum(cfg.IfName, false); err != nil {
			return err
		}
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: cfg.IP}); err != nil {
		return fmt.Errorf("add address %s to pod interface %q: %w", cfg.IP, cfg.IfName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set pod interface %q up: %w", cfg.IfName, err)
	}
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
		Gw:        cfg.Gateway,
	}
	if err := netlink.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %s on pod interface %q: %w", cfg.Gateway, cfg.IfName, err)
	}
	return nil
}

// undoVeth deletes the pair Setup created: through the host end, or through the pod end if the
// host end is already gone.
func undoVeth(podNS ns.NetNS, cfg Config) error {
	host, err := findLink(cfg.HostIfName)
	if err == nil && host != nil {
		if err = netlink.LinkDel(host); err == nil || isNotFound(err) {
			return nil
		}
	}
	podErr := podNS.Do(func(ns.NetNS) error {
		_, err := deleteVeth(cfg.IfName)
		return err
	})
	if podErr != nil {
		return fmt.Errorf("undo: delete veth pair: %w", errors.Join(err, podErr))
	}
	return nil
}
