package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// SpoofGuard (table 10): a pod may send IP only from its own MAC and IP, and ARP only with its
// own MAC and IP as sender. The gateway (the host) may use any source. Everything else is
// dropped: a pod that changes its IP or MAC, or claims another pod's IP in ARP, is cut off.

func spoofGuardDefault() openflow.Flow {
	return NewFlow(SpoofGuard, priorityDefault).Then().Drop()
}

func spoofGuardPod(pod PodSpec) []openflow.Flow {
	return []openflow.Flow{
		NewFlow(SpoofGuard, priorityNormal).IP().InPort(pod.OFPort).EthSrc(pod.MAC).IPv4Src(pod.IP).
			Then().Goto(Conntrack),
		NewFlow(SpoofGuard, priorityNormal).ARP().InPort(pod.OFPort).EthSrc(pod.MAC).ARPSpa(pod.IP).ARPSha(pod.MAC).
			Then().Goto(ARPResponder),
	}
}

func spoofGuardGateway(gatewayPort uint32) []openflow.Flow {
	return []openflow.Flow{
		NewFlow(SpoofGuard, priorityNormal).IP().InPort(gatewayPort).Then().Goto(Conntrack),
		NewFlow(SpoofGuard, priorityNormal).ARP().InPort(gatewayPort).Then().Goto(ARPResponder),
	}
}
