package flows

import (
	"net"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Conntrack (table 30): every IP packet goes through conntrack in the node's zone, with NAT so
// that replies of NATed connections are un-NATed, and resumes in ConntrackState. Nothing but IP
// reaches this table (ARP ends in ARPResponder); anything else is dropped.

func conntrackDefault() openflow.Flow {
	return NewFlow(Conntrack, priorityDefault).Then().Drop()
}

func conntrackIP(zone uint16) openflow.Flow {
	return NewFlow(Conntrack, priorityNormal).IP().
		Then().CT(CTTable(ConntrackState), CTZone(zone), CTNAT()).Done()
}

// The host's traffic to remote pods through the tunnel bypasses conntrack on this node, in both
// directions (out from the gateway to the virtual MAC, in from the tunnel to the gateway IP).
// The host's replies to remote pods that reached it through the underlay also leave through
// the gateway to the virtual MAC; conntrack would see only that half of the connection and a
// SYN-ACK that opens a connection is invalid. The peer's conntrack sees both halves.

func conntrackSkipGatewayToTunnel() openflow.Flow {
	return NewFlow(Conntrack, priorityHigh).IP().Reg(FromGateway).EthDst(VirtualMAC).
		Then().Goto(ConntrackState)
}

func conntrackSkipTunnelToGateway(gatewayIP net.IP) openflow.Flow {
	return NewFlow(Conntrack, priorityHigh).IP().Reg(FromTunnel).IPv4Dst(gatewayIP).
		Then().Goto(ConntrackState)
}
