package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

// ConntrackCommit (table 80): the first packet of a connection that will be output commits it
// to conntrack, so its replies are +est. Packets that are going to be dropped (no OutputReady)
// leave no conntrack entry behind.

func conntrackCommitDefault() openflow.Flow {
	return NewFlow(ConntrackCommit, priorityDefault).Then().Goto(Output)
}

func conntrackCommitNew(zone uint16) openflow.Flow {
	return NewFlow(ConntrackCommit, priorityNormal).IP().CtState("+new+trk").Reg(OutputReady).
		Then().CT(CTCommit(), CTZone(zone)).Goto(Output)
}
