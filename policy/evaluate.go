package policy

import (
	"cmp"
	"fmt"
	"net/netip"
)

// Decision is the outcome of one direction of a connection.
type Decision struct {
	// Pod is the namespace/name of the pod this side was judged for; empty if the address is not a known pod,
	// in which case policy does not apply and the direction is allowed.
	Pod      string
	Isolated bool
	Allowed  bool
	// Rule is the rule that allowed the connection (the lowest policy key, then rule index, when several do);
	// nil when the pod is not isolated or no rule allows.
	Rule *Rule
}

// String says why: "not isolated", "allowed by x/allow-b ingress rule 0", or "isolated, no rule allows".
func (d Decision) String() string {
	switch {
	case d.Pod == "":
		return "not a pod"
	case !d.Isolated:
		return d.Pod + " not isolated"
	case d.Allowed:
		return fmt.Sprintf("%s allowed by %s %s rule %d", d.Pod, d.Rule.Policy, d.Rule.Direction, d.Rule.Index)
	}
	return d.Pod + " isolated, no rule allows"
}

// Verdict is the outcome of a connection: allowed only if egress at the source and ingress at the destination
// both allow it.
type Verdict struct {
	Allowed bool
	Egress  Decision // judged for the source pod
	Ingress Decision // judged for the destination pod
}

// String summarises both directions.
func (v Verdict) String() string {
	word := "denied"
	if v.Allowed {
		word = "allowed"
	}
	return fmt.Sprintf("%s (egress: %s; ingress: %s)", word, v.Egress, v.Ingress)
}

// Evaluate judges a new connection from src to dst on proto/port from the model: the reference truth for the
// flows. Addresses that are not pods are never isolated; ipBlock peers match any address, pod or not.
func (s *Store) Evaluate(src, dst netip.Addr, proto Protocol, port uint16) Verdict {
	src, dst = src.Unmap(), dst.Unmap()
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := Verdict{
		Egress:  s.decide(Egress, src, dst, proto, port),
		Ingress: s.decide(Ingress, dst, src, proto, port),
	}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}

// decide judges direction dir for the pod at local, talking to peer.
func (s *Store) decide(dir Direction, local, peer netip.Addr, proto Protocol, port uint16) Decision {
	p := s.byIP[local]
	if p == nil {
		return Decision{Allowed: true}
	}
	d := Decision{Pod: p.key, Isolated: s.isolated(local, dir)}
	if !d.Isolated {
		d.Allowed = true
		return d
	}
	for _, rec := range s.policies {
		if rec.appliedTo == nil || !rec.plan.types[dir] || !rec.appliedTo.has(local, 0) {
			continue
		}
		for _, r := range rec.rules {
			if r.Direction != dir || (d.Rule != nil && ruleOrder(d.Rule, r) <= 0) {
				continue
			}
			if s.ruleAllows(r, local, peer, proto, port) {
				d.Allowed, d.Rule = true, r
			}
		}
	}
	return d
}

func ruleOrder(a, b *Rule) int {
	return cmp.Or(cmp.Compare(a.Policy.Namespace, b.Policy.Namespace), cmp.Compare(a.Policy.Name, b.Policy.Name),
		cmp.Compare(a.Index, b.Index))
}

// ruleAllows applies the formula documented on Rule; local is in AppliedTo already.
func (s *Store) ruleAllows(r *Rule, local, peer netip.Addr, proto Protocol, port uint16) bool {
	peerIn := r.AnyPeer
	for _, id := range r.Peers {
		peerIn = peerIn || s.groupsByID[id].has(peer, 0)
	}
	dst := local
	if r.Direction == Egress {
		dst = peer
	}
	if r.Direction == Ingress && !peerIn {
		return false
	}
	if peerIn && r.AnyPort {
		return true
	}
	if peerIn {
		for _, pr := range r.Ports {
			if pr.Matches(proto, port) {
				return true
			}
		}
	}
	for _, id := range r.NamedPorts {
		if g := s.groupsByID[id]; g.def.proto == proto && g.has(dst, port) {
			return true
		}
	}
	return false
}
