package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// ConntrackState (table 31): drop what conntrack considers invalid; the rest is forwarded.

func conntrackStateDefault() openflow.Flow {
	return NewFlow(ConntrackState, priorityDefault).Then().Goto(L3Forwarding)
}

func conntrackStateInvalid() openflow.Flow {
	return NewFlow(ConntrackState, priorityNormal).IP().CtState("+inv+trk").Then().Drop()
}
