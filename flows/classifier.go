package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// Classifier (table 0): mark the kind of the ingress port, then continue. Packets from pods and
// the gateway go through SpoofGuard; tunnel packets come from trusted peer nodes and go straight
// to Conntrack. Packets from any other port are dropped.

func classifierDefault() openflow.Flow {
	return NewFlow(Classifier, priorityDefault).Then().Drop()
}

func classifyPort(port uint32, kind RegMark, next Table) openflow.Flow {
	return NewFlow(Classifier, priorityNormal).InPort(port).Then().Load(kind).Goto(next)
}

func classifierGateway(gatewayPort uint32) openflow.Flow {
	return classifyPort(gatewayPort, FromGateway, SpoofGuard)
}

func classifierPod(podPort uint32) openflow.Flow {
	return classifyPort(podPort, FromPod, SpoofGuard)
}

func classifierTunnel(tunnelPort uint32) openflow.Flow {
	return classifyPort(tunnelPort, FromTunnel, Conntrack)
}
