package flows

import (
	"net/netip"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// NetworkPolicy (docs/networkpolicy.md). EgressRule (after the Service tables, so a Service
// connection is judged with the endpoint it was DNATed to) judges a new connection for the pod it
// comes from (in_port); IngressRule (once L2ForwardingCalc knows the output port) judges it for the
// local pod it goes to (TargetOFPort). Both tables have the same layout:
//
//	210 established, related and reply packets (ct_state=-new+trk) pass; in IngressRule, so does
//	    the node's own traffic (nw_src=gateway IP: kubelet probes)
//	205 a rule with neither peers nor ports allows its applied-to pods outright
//	200 conjunctive clauses (applied-to pod, peer address, port, named port: one flow per distinct
//	    match, listing every conjunction it belongs to) and one conj_id flow per conjunction that
//	    lets the packet go on
//	100 default drop, one flow per isolated local pod and direction (its counters are the denied
//	    packets of that pod)
//	  0 everything else (pods no policy isolates, traffic of other ports) goes on
//
// A packet that passes continues in the next table of the pipeline (EgressRule: L3Forwarding,
// IngressRule: ConntrackCommit), so a dropped connection leaves no conntrack entry.

// PolicyDirection is the direction a NetworkPolicy rule is enforced in.
type PolicyDirection uint8

// Egress rules are enforced in EgressRule for the source pod, ingress rules in IngressRule for the
// destination pod.
const (
	PolicyIngress PolicyDirection = iota
	PolicyEgress
)

// Priorities of the policy tables.
const (
	priorityPolicyPass     uint16 = 210
	priorityPolicyAllowAll uint16 = 205
	priorityPolicyClause   uint16 = 200
	priorityPolicyDrop     uint16 = 100
)

// PolicyDropPriority is the priority of the default-drop flows, for counting denied packets.
const PolicyDropPriority = priorityPolicyDrop

// table returns the direction's table and the table that allowed packets continue in.
func (d PolicyDirection) table() (Table, Table) {
	if d == PolicyEgress {
		return EgressRule, L3Forwarding
	}
	return IngressRule, ConntrackCommit
}

// Table is the direction's table.
func (d PolicyDirection) Table() Table { t, _ := d.table(); return t }

// policyPipelineFlows are the static flows of the policy tables.
func policyPipelineFlows(cfg NodeConfig) []openflow.Flow {
	return []openflow.Flow{
		NewFlow(EgressRule, priorityDefault).Then().Goto(L3Forwarding),
		NewFlow(EgressRule, priorityPolicyPass).IP().CtState("-new+trk").Then().Goto(L3Forwarding),
		NewFlow(IngressRule, priorityDefault).Then().Goto(ConntrackCommit),
		NewFlow(IngressRule, priorityPolicyPass).IP().CtState("-new+trk").Then().Goto(ConntrackCommit),
		NewFlow(IngressRule, priorityPolicyPass).IPv4Src(cfg.GatewayIP).Then().Goto(ConntrackCommit),
	}
}

// appliedTo matches the local pod on ofport as the side the direction judges: the source
// (in_port) for egress, the destination (TargetOFPort) for ingress.
func appliedTo(d PolicyDirection, priority uint16, ofport uint32) *MatchBuilder {
	t, _ := d.table()
	m := NewFlow(t, priority).IP()
	if d == PolicyEgress {
		return m.InPort(ofport)
	}
	return m.RegValue(TargetOFPortField, ofport)
}

// PolicyAppliedToClause is the applied-to clause of a local pod: the pod on ofport is the source
// (egress) or the destination (ingress) of the connection.
func PolicyAppliedToClause(d PolicyDirection, ofport uint32, refs []ConjRef) openflow.Flow {
	return appliedTo(d, priorityPolicyClause, ofport).Then().Conjunctions(refs)
}

// PolicyAllowPod lets every new connection of the local pod on ofport in direction d go on: a rule
// with any peer and any port.
func PolicyAllowPod(d PolicyDirection, ofport uint32) openflow.Flow {
	_, next := d.table()
	return appliedTo(d, priorityPolicyAllowAll, ofport).Then().Goto(next)
}

// PolicyDropPod drops the new connections of an isolated local pod that no rule allowed.
func PolicyDropPod(d PolicyDirection, ofport uint32) openflow.Flow {
	return appliedTo(d, priorityPolicyDrop, ofport).Then().Drop()
}

// PolicyPeerClause is a peer address clause: the other side of the connection (destination for
// egress, source for ingress) is in prefix.
func PolicyPeerClause(d PolicyDirection, prefix netip.Prefix, refs []ConjRef) openflow.Flow {
	t, _ := d.table()
	return NewFlow(t, priorityPolicyClause).IPv4Prefix(d == PolicyIngress, prefix).Then().Conjunctions(refs)
}

// PolicyPortClause is a port clause: protocol p and a destination port matching pm (one block of
// PortRangeMasks; Mask 0 means every port of p).
func PolicyPortClause(d PolicyDirection, p Protocol, pm PortMask, refs []ConjRef) openflow.Flow {
	t, _ := d.table()
	return NewFlow(t, priorityPolicyClause).L4(p).L4DstPortMask(pm).Then().Conjunctions(refs)
}

// PolicyNamedPortClause is a named-port clause: the destination is the pod at ip and its port
// number for the name on protocol p.
func PolicyNamedPortClause(d PolicyDirection, p Protocol, ip netip.Addr, port uint16, refs []ConjRef) openflow.Flow {
	t, _ := d.table()
	return NewFlow(t, priorityPolicyClause).IPv4Prefix(false, netip.PrefixFrom(ip, 32)).L4(p).L4Dst(port).
		Then().Conjunctions(refs)
}

// PolicyConjunctionFlow lets a packet that completed conjunction id go on.
func PolicyConjunctionFlow(d PolicyDirection, id uint32) openflow.Flow {
	t, next := d.table()
	return NewFlow(t, priorityPolicyClause).ConjID(id).IP().Then().Goto(next)
}
