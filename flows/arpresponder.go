package flows

import (
	"net"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// ARPResponder (table 20): ARP never floods. A request for an address this node knows (the
// gateway, a local pod, a virtual address) is turned into the reply in place and sent back out
// of the port it came in on. A pod's gratuitous ARP goes to the gateway only, so the host
// refreshes its neighbour cache. Everything else is dropped.

func arpResponderDefault() openflow.Flow {
	return NewFlow(ARPResponder, priorityDefault).Then().Drop()
}

// arpReply answers "who has ip?" with mac.
func arpReply(ip net.IP, mac net.HardwareAddr) openflow.Flow {
	return NewFlow(ARPResponder, priorityNormal).ARP().ARPOp(ARPRequest).ARPTpa(ip).
		Then().
		Move(FieldEthSrc, FieldEthDst).SetEthSrc(mac).
		SetARPOp(ARPReply).
		Move(FieldARPSha, FieldARPTha).SetARPSha(mac).
		Move(FieldARPSpa, FieldARPTpa).SetARPSpa(ip).
		OutputInPort().Done()
}

// arpGratuitousToGateway passes a pod's gratuitous ARP (sender == target == its own IP; request
// or reply) to the gateway. It outranks the pod's arpReply, which would otherwise answer it.
func arpGratuitousToGateway(pod PodSpec, gatewayPort uint32) openflow.Flow {
	return NewFlow(ARPResponder, priorityHigh).ARP().InPort(pod.OFPort).ARPSpa(pod.IP).ARPTpa(pod.IP).
		Then().Output(gatewayPort).Done()
}
