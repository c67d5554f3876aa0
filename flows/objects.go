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
		l2ForwardToPort(pod.MAC, pod.OFPort),
		outputHairpin(pod.OFPort),
	)
}

// TunnelPortFlows returns the flows of a tunnel port: its packets skip SpoofGuard.
func TunnelPortFlows(ofport uint32) []openflow.Flow {
	return []openflow.Flow{classifierTunnel(ofport)}
}

// VirtualARPFlows answers ARP requests for a virtual address (a remote gateway, a service VIP)
// with mac.
func VirtualARPFlows(ip net.IP, mac net.HardwareAddr) []openflow.Flow {
	return []openflow.Flow{arpReply(ip, mac)}
}
