package networkpolicy

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// Conjunctions are shared between rules. A rule (policy.Rule) allows
//
//	applied-to ∧ (peer₁ ∨ peer₂ ∨ …) ∧ ports
//
// which is the union over its peers of applied-to ∧ peerᵢ ∧ ports; and rules with the same peer and ports
// together allow (applied-to₁ ∪ applied-to₂ ∪ …) ∧ peer ∧ ports. So a conjunction is keyed by its direction,
// one peer group and one port set (conjKey), not by a rule: its applied-to clause is on every local pod that
// some rule with that key applies to, its peer clause on every member address of the peer group, its port
// clause on the port blocks of the port set. A peer address's flow lists the conjunctions of the distinct
// (peer group, port set) pairs it is in, not of every rule that admits it, and a new rule whose peers and ports
// some rule already has changes only the applied-to flows of its pods. Kinds of conjunction:
//
//	numeric        applied-to pod, then peer address (unless any peer), then port (unless any port); for a
//	               rule that allows any port or has numeric ports. Key: peer group, port set.
//	ingress named  applied-to pod, then peer address (unless any peer), then (destination address, protocol,
//	               port) of the applied-to pods that declare the port name. Key: peer group, protocol and port
//	               name: a pod's number for a name does not depend on the rule, so the named clauses of
//	               several rules' applied-to pods together are exactly those of their union.
//	egress named   applied-to pod, then (destination address, protocol, port) of the peer pods that declare
//	               the port name (the rule's named-port group per peer, which is its peer clause as well).
//	               Key: the named-port group.
//
// A rule with any peer and any port needs no conjunction: its pods get an allow-all flow.
//
// The groups whose members are a conjunction's peer or named-port clause are linked to it by id (clauses):
// a conjunction's peer group, or an egress one's named-port group, while it exists; an ingress one's named-port
// groups while a rule with that group uses it. When a batch drops a numeric conjunction and adds one of the same
// shape (a rule whose ports changed), the new one takes the old id and links, so only the port clauses change.
type rule struct {
	policy.Rule
	keys  []conjKey
	named []namedLink // ingress named-port groups, per key
}

// namedLink links an ingress named conjunction to the named-port group of one rule.
type namedLink struct {
	key   conjKey
	group policy.GroupID
}

// conjKey identifies a shared conjunction.
type conjKey struct {
	dir      policy.Direction
	anyPeer  bool           // no peer clause (egress named conjunctions have none either)
	peer     policy.GroupID // the peer group, unless anyPeer
	group    policy.GroupID // egress named: the named-port group
	portName string         // ingress named: the port name and protocol
	proto    policy.Protocol
	ports    string // numeric: the port set (portSetKey), "" for any port
}

// conj is a conjunction while some rule uses it.
type conj struct {
	key   conjKey
	id    uint32
	ports []policy.PortRange // numeric with a port set
	users int                // rules using it
}

// shape is a key without its port set: conjunctions of the same shape have the same clauses but the ports.
func (k conjKey) shape() conjKey { k.ports = ""; return k }

func (k conjKey) named() bool { return k.group != 0 || k.portName != "" }

// layout returns the number of clauses and the clause numbers of the peer and the port (or named-port)
// dimensions (0: none).
func (k conjKey) layout() (n, peer, port uint8) {
	n = 1
	if !k.anyPeer {
		n++
		peer = n
	}
	if k.named() || k.ports != "" {
		n++
		port = n
	}
	return n, peer, port
}

func (cj *conj) ref(clause uint8) flows.ConjRef {
	n, _, _ := cj.key.layout()
	return flows.ConjRef{ID: cj.id, Clause: clause, Of: n}
}

// allowsAll says whether a rule allows everything for its applied-to pods (any peer, any port).
func allowsAll(r *policy.Rule) bool { return r.AnyPeer && r.AnyPort }

// ruleConjs sets a rule's conjunction keys and named-port links. The rule's named-port groups must be known
// (a delta lists groups before the rules using them).
func (c *compiler) ruleConjs(r *rule) {
	peers := func(k conjKey) []conjKey {
		if r.AnyPeer {
			k.anyPeer = true
			return []conjKey{k}
		}
		var out []conjKey
		for _, g := range r.Peers {
			k.peer = g
			out = append(out, k)
		}
		return out
	}
	if (r.AnyPort || len(r.Ports) > 0) && !allowsAll(&r.Rule) {
		k := conjKey{dir: r.Direction}
		if !r.AnyPort {
			k.ports = portSetKey(r.Ports)
		}
		r.keys = append(r.keys, peers(k)...)
	}
	for _, gid := range r.NamedPorts {
		if r.Direction == policy.Egress {
			r.keys = append(r.keys, conjKey{dir: policy.Egress, anyPeer: true, group: gid})
			continue
		}
		g := c.groups[gid]
		if g == nil {
			continue // a group with no members ever: nothing to match
		}
		for _, k := range peers(conjKey{dir: policy.Ingress, portName: g.portName, proto: g.proto}) {
			r.keys = append(r.keys, k)
			r.named = append(r.named, namedLink{k, gid})
		}
	}
	slices.SortFunc(r.keys, compareKeys)
	r.keys = slices.Compact(r.keys)
}

func compareKeys(a, b conjKey) int {
	switch {
	case a.dir != b.dir:
		return int(a.dir) - int(b.dir)
	case a.anyPeer != b.anyPeer:
		if a.anyPeer {
			return -1
		}
		return 1
	case a.peer != b.peer:
		return int(a.peer) - int(b.peer)
	case a.group != b.group:
		return int(a.group) - int(b.group)
	case a.proto != b.proto:
		return int(a.proto) - int(b.proto)
	case a.portName != b.portName:
		return strings.Compare(a.portName, b.portName)
	}
	return strings.Compare(a.ports, b.ports)
}

// portSetKey is the canonical spelling of a set of port ranges.
func portSetKey(ports []policy.PortRange) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

func direction(d policy.Direction) flows.PolicyDirection {
	if d == policy.Egress {
		return flows.PolicyEgress
	}
	return flows.PolicyIngress
}

func protocol(p policy.Protocol) (flows.Protocol, bool) {
	switch p {
	case policy.TCP:
		return flows.TCP, true
	case policy.UDP:
		return flows.UDP, true
	case policy.SCTP:
		return flows.SCTP, true
	}
	return "", false
}

// conjFlows is a conjunction's conj_id flow.
func (c *compiler) conjFlows(id uint32) []openflow.Flow {
	cj := c.conjByID[id]
	if cj == nil {
		return nil
	}
	return []openflow.Flow{flows.PolicyConjunctionFlow(direction(cj.key.dir), id)}
}

// podFlows are a local pod's applied-to clauses, allow-all and default-drop flows.
func (c *compiler) podFlows(key string) []openflow.Flow {
	lp, ok := c.pods[key]
	if !ok || !lp.ip.Is4() {
		return nil
	}
	var refs [2][]flows.ConjRef
	var allowAll [2]bool
	seen := map[uint32]bool{}
	for gid := range c.byPrefix[netip.PrefixFrom(lp.ip, 32)] {
		for rid := range c.appliedBy[gid] {
			r := c.rules[rid]
			allowAll[r.Direction] = allowAll[r.Direction] || allowsAll(&r.Rule)
			for _, k := range r.keys {
				if cj := c.conjs[k]; cj != nil && !seen[cj.id] {
					seen[cj.id] = true
					refs[r.Direction] = append(refs[r.Direction], cj.ref(1))
				}
			}
		}
	}
	var out []openflow.Flow
	for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
		fd := direction(d)
		if len(refs[d]) > 0 {
			out = append(out, flows.PolicyAppliedToClause(fd, lp.ofport, refs[d]))
		}
		if allowAll[d] {
			out = append(out, flows.PolicyAllowPod(fd, lp.ofport))
		}
		if c.iso[lp.ip][d] {
			out = append(out, c.dropFlow(d, lp))
		}
	}
	return out
}

// namedKey is one named-port clause of an address.
type namedKey struct {
	dir   policy.Direction
	proto policy.Protocol
	port  uint16
}

// addressFlows are the peer and named-port clauses of one address prefix: the conjunctions linked to the groups
// it is a member of.
func (c *compiler) addressFlows(p netip.Prefix) []openflow.Flow {
	if !p.Addr().Is4() {
		return nil
	}
	var peer [2][]flows.ConjRef
	named := map[namedKey][]flows.ConjRef{}
	_, local := c.podByIP[p.Addr()]
	for gid, ports := range c.byPrefix[p] {
		g := c.groups[gid]
		if g == nil {
			continue
		}
		for id := range c.clauses[gid] {
			cj := c.conjByID[id]
			_, peerClause, portClause := cj.key.layout()
			switch {
			case g.kind != policy.NamedPortGroup:
				peer[cj.key.dir] = append(peer[cj.key.dir], cj.ref(peerClause))
			case cj.key.dir == policy.Ingress && !local:
				// ingress is enforced at the destination's node: only local pods need the clause
			default:
				for _, port := range ports {
					nk := namedKey{cj.key.dir, g.proto, port}
					named[nk] = append(named[nk], cj.ref(portClause))
				}
			}
		}
	}
	var out []openflow.Flow
	for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
		if len(peer[d]) > 0 {
			out = append(out, flows.PolicyPeerClause(direction(d), p, sortRefs(peer[d])))
		}
	}
	for k, refs := range named {
		if proto, ok := protocol(k.proto); ok && p.IsSingleIP() {
			out = append(out, flows.PolicyNamedPortClause(direction(k.dir), proto, p.Addr(), k.port, sortRefs(refs)))
		}
	}
	return out
}

// sortRefs orders a flow's conjunction actions, so that the same clauses always make the same flow, and drops
// repeats (overlapping port ranges of one port set cover the same block twice).
func sortRefs(refs []flows.ConjRef) []flows.ConjRef {
	slices.SortFunc(refs, func(a, b flows.ConjRef) int { return int(a.ID) - int(b.ID) })
	return slices.CompactFunc(refs, func(a, b flows.ConjRef) bool { return a.ID == b.ID })
}

// portKey is one port clause.
type portKey struct {
	dir   policy.Direction
	proto policy.Protocol
	mask  flows.PortMask
}

// portFlows are the port clauses of every conjunction with a port set: one flow per (direction, protocol, port
// block), listing every conjunction that admits it.
func (c *compiler) portFlows() []openflow.Flow {
	clauses := map[portKey][]flows.ConjRef{}
	for _, cj := range c.conjs {
		_, _, portClause := cj.key.layout()
		if cj.key.named() || portClause == 0 {
			continue
		}
		ref := cj.ref(portClause)
		for _, pr := range cj.ports {
			masks := []flows.PortMask{{}}
			if pr.Port != 0 {
				masks = flows.PortRangeMasks(pr.Port, max(pr.Port, pr.EndPort))
			}
			for _, m := range masks {
				k := portKey{cj.key.dir, pr.Protocol, m}
				clauses[k] = append(clauses[k], ref)
			}
		}
	}
	var out []openflow.Flow
	for k, refs := range clauses {
		if proto, ok := protocol(k.proto); ok {
			out = append(out, flows.PolicyPortClause(direction(k.dir), proto, k.mask, sortRefs(refs)))
		}
	}
	return out
}
