package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// ConntrackState (table 31): drop what conntrack considers invalid; the rest goes to EgressRule
// (through the Service tables for new connections, when there are Services).

func conntrackStateDefault() openflow.Flow {
	return NewFlow(ConntrackState, priorityDefault).Then().Goto(EgressRule)
}

func conntrackStateInvalid() openflow.Flow {
	return NewFlow(ConntrackState, priorityNormal).IP().CtState("+inv+trk").Then().Drop()
}
