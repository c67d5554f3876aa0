package flows

import (
	"net"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// L2ForwardingCalc (table 60): a known destination MAC selects the output port (TargetOFPort)
// and marks the packet OutputReady. Unknown destinations continue without the mark, so Output
// drops them. Both go on to IngressRule.

func l2ForwardingDefault() openflow.Flow {
	return NewFlow(L2ForwardingCalc, priorityDefault).Then().Goto(IngressRule)
}

func l2ForwardToPort(mac net.HardwareAddr, port uint32) openflow.Flow {
	return NewFlow(L2ForwardingCalc, priorityNormal).EthDst(mac).
		Then().LoadValue(TargetOFPortField, port).Load(OutputReady).Goto(IngressRule)
}
