package flows

import (
	"net"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// L3Forwarding (table 50): a packet addressed to the gateway MAC for a local pod is routed here
// in OVS: its MACs are rewritten to gateway -> pod and its TTL is decremented. A packet that a
// peer node tunnelled here (addressed to the virtual MAC) is delivered to the local pod or the
// gateway with the gateway MAC as source. A packet for a peer node's pod CIDR either goes into
// the tunnel (encap: the MACs become gateway -> virtual MAC, the TTL is decremented, tun_dst is
// the peer's transport address and the output port is set here) or to the gateway (direct: the
// host routes it to the peer). Every other packet continues unchanged: IP for the gateway MAC
// goes to the host, which routes it, and packets addressed to a pod MAC (same subnet) are
// switched.

func l3ForwardingDefault() openflow.Flow {
	return NewFlow(L3Forwarding, priorityDefault).Then().Goto(L2ForwardingCalc)
}

func l3RouteToPod(cfg NodeConfig, pod PodSpec) openflow.Flow {
	return NewFlow(L3Forwarding, priorityNormal).IP().EthDst(cfg.GatewayMAC).IPv4Dst(pod.IP).
		Then().SetEthSrc(cfg.GatewayMAC).SetEthDst(pod.MAC).DecTTL().Goto(L2ForwardingCalc)
}

// l3TunnelToPod delivers a packet a peer node tunnelled to a local pod. The sender already
// decremented the TTL.
func l3TunnelToPod(cfg NodeConfig, pod PodSpec) openflow.Flow {
	return NewFlow(L3Forwarding, priorityNormal).IP().EthDst(VirtualMAC).IPv4Dst(pod.IP).
		Then().SetEthSrc(cfg.GatewayMAC).SetEthDst(pod.MAC).Goto(L2ForwardingCalc)
}

// l3TunnelToGateway delivers a packet a peer node tunnelled to this node's gateway IP (replies to
// the host, which uses the gateway IP as source towards remote pod CIDRs) to the gateway port.
func l3TunnelToGateway(cfg NodeConfig) openflow.Flow {
	return NewFlow(L3Forwarding, priorityNormal).IP().EthDst(VirtualMAC).IPv4Dst(cfg.GatewayIP).
		Then().SetEthDst(cfg.GatewayMAC).Goto(L2ForwardingCalc)
}

// l3RouteToPeerTunnel sends a packet for a peer's pod CIDR into the tunnel towards the peer.
func l3RouteToPeerTunnel(cfg NodeConfig, cidr *net.IPNet, peerIP net.IP, tunnelPort uint32) openflow.Flow {
	return NewFlow(L3Forwarding, priorityNormal).IPv4DstNet(cidr).
		Then().SetEthSrc(cfg.GatewayMAC).SetEthDst(VirtualMAC).DecTTL().
		SetTunnelID(TunnelID).SetTunnelDst(peerIP).
		LoadValue(TargetOFPortField, tunnelPort).Load(OutputReady).Goto(L2ForwardingCalc)
}

// l3RouteToPeerGateway hands a packet for a peer's pod CIDR to the host, which routes it to the
// peer's transport address (direct routing).
func l3RouteToPeerGateway(cfg NodeConfig, cidr *net.IPNet) openflow.Flow {
	return NewFlow(L3Forwarding, priorityNormal).IPv4DstNet(cidr).
		Then().SetEthDst(cfg.GatewayMAC).Goto(L2ForwardingCalc)
}
