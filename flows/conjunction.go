package flows

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Conjunctive match (ovs-fields(7), "Conjunctive Match Fields"): a flow whose actions are
// conjunction(id, k/n) is clause k of n of conjunction id; a packet that matches at least one flow
// of every clause of id, at the same priority, matches the flow "conj_id=id". NetworkPolicy uses it
// so that a rule needs (applied-to pods + peers + ports) flows instead of their product.

// ConjRef says that a flow is clause Clause (1-based) of Of clauses of conjunction ID.
type ConjRef struct {
	ID         uint32
	Clause, Of uint8
}

// String returns the action "conjunction(id,k/n)".
func (c ConjRef) String() string { return fmt.Sprintf("conjunction(%d,%d/%d)", c.ID, c.Clause, c.Of) }

// ConjID matches the packets that completed conjunction id.
func (m *MatchBuilder) ConjID(id uint32) *MatchBuilder { return m.add("conj_id=%d", id) }

// Conjunctions finishes a clause flow: its actions are the conjunctions it belongs to, sorted by id
// and clause so that the text is stable (and what dump-flows prints). A clause flow has no other
// action.
func (a *ActionBuilder) Conjunctions(refs []ConjRef) openflow.Flow {
	if len(a.actions) != 0 || len(refs) == 0 {
		panic(fmt.Sprintf("flows: table %s priority %d: conjunctions need to be the only actions (%v, %v)", a.match.table, a.match.priority, a.actions, refs))
	}
	refs = slices.Clone(refs)
	slices.SortFunc(refs, func(x, y ConjRef) int {
		if x.ID != y.ID {
			return int(int64(x.ID) - int64(y.ID))
		}
		return int(x.Clause) - int(y.Clause)
	})
	refs = slices.Compact(refs)
	for _, r := range refs {
		if r.Of < 2 || r.Clause < 1 || r.Clause > r.Of || r.Of > 64 {
			panic(fmt.Sprintf("flows: invalid conjunction clause %s (OVS wants 1 <= k <= n, 2 <= n <= 64)", r))
		}
		a.add("%s", r)
	}
	return a.Done()
}

// IPv4Prefix matches an IPv4 prefix as source (src true) or destination, printed the way ovs-ofctl
// prints it back: a host address without "/32", and no match at all for "/0" (any address). IP
// packets are implied.
func (m *MatchBuilder) IPv4Prefix(src bool, p netip.Prefix) *MatchBuilder {
	if !p.Addr().Is4() {
		panic(fmt.Sprintf("flows: %s is not an IPv4 prefix", p))
	}
	m.IP()
	field := "nw_dst"
	if src {
		field = "nw_src"
	}
	switch p = p.Masked(); p.Bits() {
	case 0:
		return m
	case 32:
		return m.add("%s=%s", field, p.Addr())
	}
	return m.add("%s=%s", field, p)
}

// PortMask is one value/mask match of a transport port; Mask 0xffff is an exact port.
type PortMask struct{ Value, Mask uint16 }

// PortRangeMasks splits the port range [lo, hi] into the fewest value/mask matches that cover
// exactly that range (at most 30 for a 16-bit range).
func PortRangeMasks(lo, hi uint16) []PortMask {
	if lo > hi {
		return nil
	}
	var out []PortMask
	for cur := uint32(lo); cur <= uint32(hi); {
		size := uint32(1)
		// Grow the block while it stays aligned at cur and inside the range.
		for size < 1<<16 && cur%(size*2) == 0 && cur+size*2-1 <= uint32(hi) {
			size *= 2
		}
		out = append(out, PortMask{Value: uint16(cur), Mask: uint16(0xffff &^ (size - 1))})
		cur += size
	}
	return out
}

// L4DstPortMask matches one PortMask of the destination port (after L4): "tp_dst=80" for an exact
// port, "tp_dst=0x50/0xfff0" otherwise.
func (m *MatchBuilder) L4DstPortMask(pm PortMask) *MatchBuilder {
	if pm.Mask == 0xffff {
		return m.L4Dst(pm.Value)
	}
	if pm.Mask == 0 {
		m.needL4()
		return m
	}
	return m.L4DstMasked(pm.Value, pm.Mask)
}
