package flows

import "github.com/switchyard-net/switchyard/ovs/openflow"

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
