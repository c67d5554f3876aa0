package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// Output (table 90): a packet marked OutputReady leaves through TargetOFPort. OVS drops output
// to the ingress port, so a packet whose target is its own ingress port (hairpin) must use
// IN_PORT; OpenFlow cannot compare two fields, so each port gets its own hairpin flow.
// Unmarked packets are dropped.

func outputDefault() openflow.Flow {
	return NewFlow(Output, priorityDefault).Then().Drop()
}

func outputToTarget() openflow.Flow {
	return NewFlow(Output, priorityNormal).Reg(OutputReady).Then().OutputReg(TargetOFPortField).Done()
}

func outputHairpin(port uint32) openflow.Flow {
	return NewFlow(Output, priorityHigh).Reg(OutputReady).RegValue(TargetOFPortField, port).InPort(port).
		Then().OutputInPort().Done()
}
