package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// L3Forwarding (table 50): a packet addressed to the gateway MAC for a local pod is routed here
// in OVS: its MACs are rewritten to gateway -> pod and its TTL is decremented. Every other
// packet continues unchanged: IP for the gateway MAC goes to the host, which routes it, and
// packets addressed to a pod MAC (same subnet) are switched.

func l3ForwardingDefault() openflow.Flow {
	return NewFlow(L3Forwarding, priorityDefault).Then().Goto(L2ForwardingCalc)
}

func l3RouteToPod(cfg NodeConfig, pod PodSpec) openflow.Flow {
	return NewFlow(L3Forwarding, priorityNormal).IP().EthDst(cfg.GatewayMAC).IPv4Dst(pod.IP).
		Then().SetEthSrc(cfg.GatewayMAC).SetEthDst(pod.MAC).DecTTL().Goto(L2ForwardingCalc)
}
