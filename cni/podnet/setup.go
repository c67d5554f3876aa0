package podnet

import (
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
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

// Setup creates the pod's veth pair: cfg.IfName inside the pod netns at netnsPath (MAC, MTU, IPv6 off, address, up,
// default route via cfg.Gateway, optionally tx checksum off) and cfg.HostIfName in the calling thread's netns (MTU,
// NOARP, IPv6 off so it holds no address, up, not attached to anything). A node-side veth left over with the same
// name is deleted first. If any step fails the pair is deleted again, so a failed Setup leaves no veth in either
// netns.
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
	if ok, err := deleteVeth(cfg.HostIfName); err != nil {
		return nil, fmt.Errorf("remove leftover host veth: %w", err)
	} else if !ok {
		return nil, fmt.Errorf("host interface %q exists and is not a veth", cfg.HostIfName)
	}

	// The pair is made from the node side in one request, the host end already NOARP and up: every change of a
	// link in its netns wakes ovs-vswitchd's main thread (a route dump and an address dump, which grow with the
	// node's interfaces), so the host end changes twice per pod (created, then carrier when the pod end comes up)
	// instead of four times.
	if err := createVeth(cfg, podNS); err != nil {
		return nil, err // creating the pair is atomic: nothing to undo
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, undoVeth(podNS, cfg))
		}
	}()
	// IPv6 off before the carrier comes up (it comes up with the pod end), so the host end never gets a
	// link-local address.
	if err := disableIPv6(cfg.HostIfName); err != nil {
		return nil, err
	}
	var pod netlink.Link
	if err := podNS.Do(func(ns.NetNS) (err error) {
		pod, err = configurePodSide(cfg)
		return err
	}); err != nil {
		return nil, err
	}
	host, err := netlink.LinkByName(cfg.HostIfName) // for its MAC and index
	if err != nil {
		return nil, fmt.Errorf("look up host veth %q: %w", cfg.HostIfName, err)
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

// createVeth runs in the node netns: one RTM_NEWLINK makes cfg.HostIfName here (MTU, NOARP, promiscuous, up) and
// its peer cfg.IfName directly in podNS (MTU, MAC, down). NOARP is set from the start: the node kernel must never
// answer the pod's ARP requests on a veth that OVS owns. Promiscuous because ovs-vswitchd makes every port so when
// it adds it: already set, that is one link change (and one round of dumps in vswitchd) less per pod. The host end
// has no carrier until the pod end is up.
// (netlink.LinkAdd cannot set NOARP at creation, hence the hand-made request.)
func createVeth(cfg Config, podNS ns.NetNS) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	host := nl.NewIfInfomsg(unix.AF_UNSPEC)
	host.Flags = unix.IFF_UP | unix.IFF_NOARP | unix.IFF_PROMISC
	host.Change = unix.IFF_UP | unix.IFF_NOARP | unix.IFF_PROMISC
	req.AddData(host)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(cfg.HostIfName)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(cfg.MTU))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated(vethType))
	peer := info.AddRtAttr(nl.IFLA_INFO_DATA, nil).AddRtAttr(nl.VETH_INFO_PEER, nil)
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(cfg.IfName))
	peer.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(cfg.MTU)))
	peer.AddRtAttr(unix.IFLA_ADDRESS, []byte(cfg.MAC))
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(podNS.Fd())))
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("create veth pair (host %q, pod %q): %w", cfg.HostIfName, cfg.IfName, err)
	}
	return nil
}

// configurePodSide runs in the pod netns: checksum offload, IPv6 off, address, up, default route. It returns the
// link.
func configurePodSide(cfg Config) (netlink.Link, error) {
	link, err := netlink.LinkByName(cfg.IfName)
	if err != nil {
		return nil, fmt.Errorf("look up pod interface %q: %w", cfg.IfName, err)
	}
	if cfg.TxChecksumOff {
		if err := setTxChecksum(cfg.IfName, false); err != nil {
			return nil, err
		}
	}
	// Pods get IPv4 only (IPv4 pod CIDRs): without IPv6 on the interface the pod sends no duplicate-address
	// probes, multicast listener reports and router solicitations when it comes up, which the switch could only
	// drop, each after a trip through ovs-vswitchd's slow path.
	if err := disableIPv6(cfg.IfName); err != nil { // cfg.validate admits IPv4 addresses only
		return nil, err
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: cfg.IP}); err != nil {
		return nil, fmt.Errorf("add address %s to pod interface %q: %w", cfg.IP, cfg.IfName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("set pod interface %q up: %w", cfg.IfName, err)
	}
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
		Gw:        cfg.Gateway,
	}
	if err := netlink.RouteAdd(route); err != nil {
		return nil, fmt.Errorf("add default route via %s on pod interface %q: %w", cfg.Gateway, cfg.IfName, err)
	}
	return link, nil
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
