package networkpolicy

import (
	"net/netip"
	"slices"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// A rule (policy.Rule) becomes at most two conjunctions, with ids derived from a base that belongs to the rule's
// position (policy, direction, index): an updated rule keeps its ids, so the clauses it shares with others are
// rewritten only if its groups or the shape of its conjunctions change. A position whose rule is gone frees its
// base, and bases are never reused:
//
//	numeric  2*base    clause 1 applied-to pod, then peer address (unless any peer), then port (unless any port);
//	                   present when the rule allows any port or has numeric ports
//	named    2*base+1  clause 1 applied-to pod, then (ingress, unless any peer) peer address, then the named-port
//	                   members (destination address, protocol and port); present when the rule has named ports
//
// Egress named-port groups hold the peer pods that declare the port, so their members are the peer clause too.
// A numeric conjunction with any peer and any port has one clause: the pod's allow-all flow instead.
type rule struct {
	policy.Rule
	base uint32
}

// ruleKey is a rule's position.
type ruleKey struct {
	policy policy.PolicyKey
	dir    policy.Direction
	index  int
}

func (r *rule) key() ruleKey { return ruleKey{r.Policy, r.Direction, r.Index} }

// sameShape says whether b uses the same groups as a with the same conjunction layouts (ports may differ).
func sameShape(a, b *rule) bool {
	return a.AppliedTo == b.AppliedTo && a.AnyPeer == b.AnyPeer && a.AnyPort == b.AnyPort &&
		(len(a.Ports) > 0) == (len(b.Ports) > 0) && slices.Equal(a.Peers, b.Peers) && slices.Equal(a.NamedPorts, b.NamedPorts)
}

type conjLayout struct {
	id   uint32
	n    uint8 // number of clauses
	peer uint8 // clause number of the peer dimension, 0 if none
	port uint8 // clause number of the port or named-port dimension, 0 if none
}

func numericConj(r *rule) (conjLayout, bool) {
	if !r.AnyPort && len(r.Ports) == 0 {
		return conjLayout{}, false
	}
	l := conjLayout{id: r.base * 2, n: 1}
	if !r.AnyPeer {
		l.n++
		l.peer = l.n
	}
	if !r.AnyPort {
		l.n++
		l.port = l.n
	}
	return l, true
}

func namedConj(r *rule) (conjLayout, bool) {
	if len(r.NamedPorts) == 0 {
		return conjLayout{}, false
	}
	l := conjLayout{id: r.base*2 + 1, n: 1}
	if r.Direction == policy.Ingress && !r.AnyPeer {
		l.n++
		l.peer = l.n
	}
	l.n++
	l.port = l.n
	return l, true
}

// layouts returns the rule's conjunctions.
func layouts(r *rule) []conjLayout {
	var out []conjLayout
	if l, ok := numericConj(r); ok {
		out = append(out, l)
	}
	if l, ok := namedConj(r); ok {
		out = append(out, l)
	}
	return out
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

// policyFlows are a policy's conj_id flows.
func (c *compiler) policyFlows(k policy.PolicyKey) []openflow.Flow {
	var out []openflow.Flow
	for id := range c.byPolicy[k] {
		r := c.rules[id]
		for _, l := range layouts(r) {
			if l.n > 1 {
				out = append(out, flows.PolicyConjunctionFlow(direction(r.Direction), l.id))
			}
		}
	}
	return out
}

// podFlows are a local pod's applied-to clauses, allow-all and default-drop flows.
func (c *compiler) podFlows(key string) []openflow.Flow {
	lp, ok := c.pods[key]
	if !ok || !lp.ip.Is4() {
		return nil
	}
	var refs [2][]flows.ConjRef
	var allowAll [2]bool
	for gid := range c.byPrefix[netip.PrefixFrom(lp.ip, 32)] {
		for rid := range c.refs[gid] {
			r := c.rules[rid]
			if r.AppliedTo != gid {
				continue
			}
			for _, l := range layouts(r) {
				if l.n == 1 {
					allowAll[r.Direction] = true
				} else {
					refs[r.Direction] = append(refs[r.Direction], flows.ConjRef{ID: l.id, Clause: 1, Of: l.n})
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

// addressFlows are the peer and named-port clauses of one address prefix.
func (c *compiler) addressFlows(p netip.Prefix) []openflow.Flow {
	if !p.Addr().Is4() {
		return nil
	}
	var peer [2][]flows.ConjRef
	named := map[namedKey][]flows.ConjRef{}
	for gid, ports := range c.byPrefix[p] {
		g := c.groups[gid]
		if g == nil {
			continue
		}
		for rid := range c.refs[gid] {
			r := c.rules[rid]
			if g.kind == policy.NamedPortGroup {
				l, ok := namedConj(r)
				if !ok || !slices.Contains(r.NamedPorts, gid) {
					continue
				}
				if _, local := c.podByIP[p.Addr()]; r.Direction == policy.Ingress && !local {
					continue // ingress is enforced at the destination's node: only local pods need the clause
				}
				for _, port := range ports {
					k := namedKey{r.Direction, g.proto, port}
					named[k] = append(named[k], flows.ConjRef{ID: l.id, Clause: l.port, Of: l.n})
				}
				continue
			}
			if !slices.Contains(r.Peers, gid) {
				continue
			}
			for _, l := range layouts(r) {
				if l.peer > 0 {
					peer[r.Direction] = append(peer[r.Direction], flows.ConjRef{ID: l.id, Clause: l.peer, Of: l.n})
				}
			}
		}
	}
	var out []openflow.Flow
	for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
		if len(peer[d]) > 0 {
			out = append(out, flows.PolicyPeerClause(direction(d), p, peer[d]))
		}
	}
	for k, refs := range named {
		if proto, ok := protocol(k.proto); ok && p.IsSingleIP() {
			out = append(out, flows.PolicyNamedPortClause(direction(k.dir), proto, p.Addr(), k.port, refs))
		}
	}
	return out
}

// portKey is one port clause.
type portKey struct {
	dir   policy.Direction
	proto policy.Protocol
	mask  flows.PortMask
}

// portFlows are the port clauses of every rule: one flow per (direction, protocol, port block), listing every
// conjunction that admits it.
func (c *compiler) portFlows() []openflow.Flow {
	clauses := map[portKey][]flows.ConjRef{}
	for _, r := range c.rules {
		l, ok := numericConj(r)
		if !ok || l.port == 0 {
			continue
		}
		ref := flows.ConjRef{ID: l.id, Clause: l.port, Of: l.n}
		for _, pr := range r.Ports {
			masks := []flows.PortMask{{}}
			if pr.Port != 0 {
				masks = flows.PortRangeMasks(pr.Port, max(pr.Port, pr.EndPort))
			}
			for _, m := range masks {
				k := portKey{r.Direction, pr.Protocol, m}
				clauses[k] = append(clauses[k], ref)
			}
		}
	}
	var out []openflow.Flow
	for k, refs := range clauses {
		if proto, ok := protocol(k.proto); ok {
			out = append(out, flows.PolicyPortClause(direction(k.dir), proto, k.mask, refs))
		}
	}
	return out
}
