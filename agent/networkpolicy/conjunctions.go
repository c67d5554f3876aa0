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
//	numeric  applied-to pod, then peer address (unless any peer), then port (unless any port); for a rule
//	         that allows any port or has numeric ports
//	named    applied-to pod, then (ingress, unless any peer) peer address, then the named-port members
//	         (destination address, protocol and port); per named-port group of the rule
//
// Egress named-port groups hold the peer pods that declare the port, so their members are the peer clause too.
// A rule with any peer and any port needs no conjunction: its pods get an allow-all flow.
type rule struct {
	policy.Rule
	keys []conjKey
}

// conjKey identifies a shared conjunction.
type conjKey struct {
	dir     policy.Direction
	anyPeer bool
	peer    policy.GroupID // the peer group, unless anyPeer (numeric, ingress named)
	named   policy.GroupID // the named-port group of a named conjunction, 0 for numeric
	ports   string         // numeric: the port set (portSetKey), "" for any port
}

// conj is a conjunction while some rule uses it. Ids are never reused by another key except when a key replaces
// one of the same shape in one batch (see compiler.apply): the clauses that do not depend on the ports then
// keep their flows.
type conj struct {
	key   conjKey
	id    uint32
	ports []policy.PortRange // numeric with a port set
	users int                // rules using it
}

// shape is a key without its port set: conjunctions of the same shape have the same clauses but the ports.
func (k conjKey) shape() conjKey { k.ports = ""; return k }

// layout returns the number of clauses and the clause numbers of the peer and the port (or named-port)
// dimensions (0: none).
func (k conjKey) layout() (n, peer, port uint8) {
	n = 1
	if !k.anyPeer && (k.named == 0 || k.dir == policy.Ingress) {
		n++
		peer = n
	}
	if k.named != 0 || k.ports != "" {
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

// conjKeys are the conjunctions of a rule.
func conjKeys(r *policy.Rule) []conjKey {
	var out []conjKey
	peers := func(k conjKey) {
		if r.AnyPeer {
			k.anyPeer = true
			out = append(out, k)
			return
		}
		for _, g := range r.Peers {
			k.peer = g
			out = append(out, k)
		}
	}
	if (r.AnyPort || len(r.Ports) > 0) && !allowsAll(r) {
		k := conjKey{dir: r.Direction}
		if !r.AnyPort {
			k.ports = portSetKey(r.Ports)
		}
		peers(k)
	}
	for _, g := range r.NamedPorts {
		k := conjKey{dir: r.Direction, named: g}
		if r.Direction == policy.Egress {
			k.anyPeer = true // the named-port group holds the peers
			out = append(out, k)
		} else {
			peers(k)
		}
	}
	slices.SortFunc(out, compareKeys)
	return slices.Compact(out)
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
	case a.named != b.named:
		return int(a.named) - int(b.named)
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
			out = append(out, flows.PolicyDropPod(fd, lp.ofport))
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

// addressFlows are the peer and named-port clauses of one address prefix: the conjunctions of the groups it is a
// member of.
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
		for k := range c.byGroup[gid] {
			cj := c.conjs[k]
			_, peerClause, portClause := k.layout()
			switch {
			case k.named == gid:
				if k.dir == policy.Ingress && !local {
					continue // ingress is enforced at the destination's node: only local pods need the clause
				}
				for _, port := range ports {
					nk := namedKey{k.dir, g.proto, port}
					named[nk] = append(named[nk], cj.ref(portClause))
				}
			case k.peer == gid && peerClause > 0:
				peer[k.dir] = append(peer[k.dir], cj.ref(peerClause))
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
		if cj.key.named != 0 || portClause == 0 {
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
