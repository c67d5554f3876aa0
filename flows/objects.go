package flows

import (
	"errors"
	"fmt"
	"net"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// NodeConfig is what the node's static pipeline needs to know.
type NodeConfig struct {
	GatewayOFPort uint32           // OpenFlow port of the gateway (the host's internal port on br-int)
	GatewayMAC    net.HardwareAddr // MAC of the gateway port
	GatewayIP     net.IP           // the pods' default gateway, an address inside PodCIDR
	PodCIDR       *net.IPNet       // this node's pod subnet
	CTZone        uint16           // conntrack zone of the pod network, normally DefaultCTZone
}

// VirtualMAC is the destination MAC of every packet between nodes in a tunnel, and the MAC the
// ARP responder gives for remote gateway IPs: a peer node's pod CIDR is reached through it, and
// a packet that arrives addressed to it is delivered by its destination IP. Like a router's MAC,
// it is the same on every node.
var VirtualMAC = net.HardwareAddr{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}

// TunnelID is the tunnel key (Geneve or VXLAN VNI) of pod traffic between nodes.
const TunnelID = 0

// PeerSpec is what the pipeline needs to know about a peer node.
type PeerSpec struct {
	NodeIP   net.IP       // the peer's transport address: the tunnel's tun_dst
	PodCIDRs []*net.IPNet // the peer's IPv4 pod CIDRs
	// Tunnel says how the peer's pods are reached: true encapsulates towards NodeIP through
	// TunnelOFPort; false hands the packets to the gateway, and the host routes them (direct).
	Tunnel       bool
	TunnelOFPort uint32
}

// PeerGatewayIP is the gateway address of a peer's pod CIDR: its first address, the same rule
// every node uses for its own gateway.
func PeerGatewayIP(cidr *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	copy(ip, cidr.IP.Mask(cidr.Mask).To4())
	ip[3]++
	return ip
}

// ValidatePeer reports what is wrong with a peer node, if anything: a pod CIDR that is not IPv4
// or overlaps this node's, a missing transport address or tunnel port.
func (c NodeConfig) ValidatePeer(p PeerSpec) error {
	var errs []error
	if len(p.PodCIDRs) == 0 {
		errs = append(errs, errors.New("peer has no pod CIDR"))
	}
	for _, cidr := range p.PodCIDRs {
		switch {
		case cidr == nil || cidr.IP.To4() == nil:
			errs = append(errs, fmt.Errorf("peer pod CIDR %v is not an IPv4 subnet", cidr))
		case c.PodCIDR != nil && (cidr.Contains(c.PodCIDR.IP) || c.PodCIDR.Contains(cidr.IP)):
			errs = append(errs, fmt.Errorf("peer pod CIDR %v overlaps this node's pod CIDR %v", cidr, c.PodCIDR))
		}
	}
	if p.Tunnel {
		if p.NodeIP == nil || p.NodeIP.IsUnspecified() {
			errs = append(errs, fmt.Errorf("peer transport address %v is not an IP address", p.NodeIP))
		}
		errs = append(errs, checkOFPort("tunnel", p.TunnelOFPort))
	}
	return errors.Join(errs...)
}

// PodSpec is what the pipeline needs to know about a local pod.
type PodSpec struct {
	OFPort uint32           // OpenFlow port of the pod's host-side veth
	MAC    net.HardwareAddr // MAC of the pod's interface
	IP     net.IP           // the pod's IPv4 address
}

// maxOFPort is the largest OpenFlow port number of a physical or logical port (OFPP_MAX).
const maxOFPort = 0xffffff00

func checkOFPort(what string, port uint32) error {
	if port == 0 || port > maxOFPort {
		return fmt.Errorf("%s OpenFlow port %d is not a valid port number (1..%d)", what, port, uint32(maxOFPort))
	}
	return nil
}

func checkUnicastMAC(what string, mac net.HardwareAddr) error {
	if len(mac) != 6 || mac[0]&1 != 0 {
		return fmt.Errorf("%s MAC %q is not a unicast Ethernet address", what, mac.String())
	}
	return nil
}

// Validate reports what is wrong with the node configuration, if anything.
func (c NodeConfig) Validate() error {
	var errs []error
	errs = append(errs, checkOFPort("gateway", c.GatewayOFPort), checkUnicastMAC("gateway", c.GatewayMAC))
	switch {
	case c.PodCIDR == nil || c.PodCIDR.IP.To4() == nil:
		errs = append(errs, fmt.Errorf("pod CIDR %v is not an IPv4 subnet", c.PodCIDR))
	case c.GatewayIP.To4() == nil || !c.PodCIDR.Contains(c.GatewayIP):
		errs = append(errs, fmt.Errorf("gateway IP %v is not an IPv4 address inside pod CIDR %v", c.GatewayIP, c.PodCIDR))
	}
	return errors.Join(errs...)
}

// ValidatePod reports what is wrong with a pod of this node, if anything.
func (c NodeConfig) ValidatePod(p PodSpec) error {
	var errs []error
	errs = append(errs, checkOFPort("pod", p.OFPort), checkUnicastMAC("pod", p.MAC))
	if p.OFPort == c.GatewayOFPort {
		errs = append(errs, fmt.Errorf("pod OpenFlow port %d is the gateway's port", p.OFPort))
	}
	if p.MAC.String() == c.GatewayMAC.String() {
		errs = append(errs, fmt.Errorf("pod MAC %s is the gateway's MAC", p.MAC))
	}
	switch {
	case p.IP.To4() == nil || c.PodCIDR == nil || !c.PodCIDR.Contains(p.IP):
		errs = append(errs, fmt.Errorf("pod IP %v is not an IPv4 address inside pod CIDR %v", p.IP, c.PodCIDR))
	case p.IP.Equal(c.GatewayIP):
		errs = append(errs, fmt.Errorf("pod IP %v is the gateway's IP", p.IP))
	}
	return errors.Join(errs...)
}

// PipelineFlows returns the node's static flows: the default flow of every table, the shared
// flows of the pipeline and the gateway's flows. cfg must be valid (see Validate).
func PipelineFlows(cfg NodeConfig) []openflow.Flow {
	flows := []openflow.Flow{
		classifierDefault(),
		classifierGateway(cfg.GatewayOFPort),
		spoofGuardDefault(),
	}
	flows = append(flows, spoofGuardGateway(cfg.GatewayOFPort)...)
	flows = append(flows, policyPipelineFlows(cfg)...)
	return append(flows,
		arpResponderDefault(),
		arpReply(cfg.GatewayIP, cfg.GatewayMAC),
		conntrackDefault(),
		conntrackIP(cfg.CTZone),
		conntrackStateDefault(),
		conntrackStateInvalid(),
		l3ForwardingDefault(),
		l2ForwardingDefault(),
		l2ForwardToPort(cfg.GatewayMAC, cfg.GatewayOFPort),
		conntrackCommitDefault(),
		conntrackCommitNew(cfg.CTZone),
		outputDefault(),
		outputToTarget(),
	)
}

// PodFlows returns the flows of one local pod. cfg and pod must be valid (see ValidatePod).
func PodFlows(cfg NodeConfig, pod PodSpec) []openflow.Flow {
	flows := []openflow.Flow{classifierPod(pod.OFPort)}
	flows = append(flows, spoofGuardPod(pod)...)
	return append(flows,
		arpReply(pod.IP, pod.MAC),
		arpGratuitousToGateway(pod, cfg.GatewayOFPort),
		l3RouteToPod(cfg, pod),
		l3TunnelToPod(cfg, pod),
		l2ForwardToPort(pod.MAC, pod.OFPort),
		outputHairpin(pod.OFPort),
	)
}

// TunnelPortFlows returns the flows of the node's tunnel port: its packets skip SpoofGuard; the
// host's traffic through the tunnel skips conntrack; packets tunnelled to the gateway IP reach
// the gateway. (Packets tunnelled to local pods are delivered by PodFlows.)
func TunnelPortFlows(cfg NodeConfig, ofport uint32) []openflow.Flow {
	return []openflow.Flow{
		classifierTunnel(ofport),
		conntrackSkipGatewayToTunnel(),
		conntrackSkipTunnelToGateway(cfg.GatewayIP),
		l3TunnelToGateway(cfg),
	}
}

// PeerFlows returns the flows of a peer node: per pod CIDR, the route into the tunnel and the
// ARP answer for the peer's gateway IP (encap), or the route to the gateway (direct). cfg and
// peer must be valid (see ValidatePeer).
func PeerFlows(cfg NodeConfig, peer PeerSpec) []openflow.Flow {
	var flows []openflow.Flow
	for _, cidr := range peer.PodCIDRs {
		if peer.Tunnel {
			flows = append(flows,
				l3RouteToPeerTunnel(cfg, cidr, peer.NodeIP, peer.TunnelOFPort),
				arpReply(PeerGatewayIP(cidr), VirtualMAC))
		} else {
			flows = append(flows, l3RouteToPeerGateway(cfg, cidr))
		}
	}
	return flows
}

// VirtualARPFlows answers ARP requests for a virtual address (a remote gateway, a service VIP)
// with mac.
func VirtualARPFlows(ip net.IP, mac net.HardwareAddr) []openflow.Flow {
	return []openflow.Flow{arpReply(ip, mac)}
}
