package networkpolicy

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// compiler keeps what the policy flows are computed from: the groups and rules of the model (as the deltas
// reported them), the shared conjunctions of the rules, the isolation of pod addresses, and the local pods'
// OpenFlow ports. A change marks the owners whose flows may differ; changes() computes them. It is not safe for
// concurrent use (the controller's worker owns it).
type compiler struct {
	groups    map[policy.GroupID]*groupState
	rules     map[policy.RuleID]*rule
	appliedBy map[policy.GroupID]map[policy.RuleID]struct{} // rules by applied-to group
	conjs     map[conjKey]*conj
	conjByID  map[uint32]*conj
	clauses   map[policy.GroupID]map[uint32]int            // links of groups to the conjunctions whose peer or named-port clause they are
	nextID    uint32                                       // the last conjunction id given out
	byPrefix  map[netip.Prefix]map[policy.GroupID][]uint16 // groups with a member at a prefix, and its ports
	iso       map[netip.Addr][2]bool                       // isolation per policy.Direction
	pods      map[string]localPod                          // local pods by namespace/name
	podByIP   map[netip.Addr]string                        // local pods by address
	dirty     map[flows.Owner]struct{}                     // owners whose flows may have changed

	logDenied func(netip.Addr, policy.Direction) bool // logged default drops (logdenied.go); nil: none
}

// groupState is a group as the deltas built it.
type groupState struct {
	kind     policy.GroupKind
	proto    policy.Protocol
	portName string
	members  map[policy.Member]struct{}
}

// localPod is a pod of this node with an OpenFlow port.
type localPod struct {
	ip     netip.Addr
	ofport uint32
}

func newCompiler() *compiler {
	return &compiler{
		groups: map[policy.GroupID]*groupState{}, rules: map[policy.RuleID]*rule{},
		appliedBy: map[policy.GroupID]map[policy.RuleID]struct{}{}, conjs: map[conjKey]*conj{}, conjByID: map[uint32]*conj{},
		clauses: map[policy.GroupID]map[uint32]int{}, byPrefix: map[netip.Prefix]map[policy.GroupID][]uint16{},
		iso: map[netip.Addr][2]bool{}, pods: map[string]localPod{}, podByIP: map[netip.Addr]string{},
		dirty: map[flows.Owner]struct{}{},
	}
}

func (c *compiler) mark(o flows.Owner) { c.dirty[o] = struct{}{} }

// markAddress marks the owners that hold flows about address prefix p: its address owner, and the local pod
// that has it.
func (c *compiler) markAddress(p netip.Prefix) {
	c.mark(addrOwner(p))
	if key, ok := c.podByIP[p.Addr()]; ok && p.IsSingleIP() {
		c.mark(podOwner(key))
	}
}

// apply folds a delta of the model into the indexes and marks the owners it touches.
func (c *compiler) apply(d policy.Delta) {
	for _, gd := range d.Groups {
		g := c.groups[gd.ID]
		if g == nil && !gd.Deleted {
			g = &groupState{kind: gd.Kind, proto: gd.Protocol, portName: gd.PortName, members: map[policy.Member]struct{}{}}
			c.groups[gd.ID] = g
		}
		for _, m := range gd.Added {
			g.members[m] = struct{}{}
			c.addPrefix(gd.ID, m)
			c.markAddress(m.Prefix)
		}
		for _, m := range gd.Removed {
			if g != nil {
				delete(g.members, m)
			}
			c.removePrefix(gd.ID, m)
			c.markAddress(m.Prefix)
		}
		if gd.Deleted {
			delete(c.groups, gd.ID)
		}
	}
	// Removed rules first: a conjunction they leave unused may hand its id and links to a new one of the same
	// shape (a rule whose ports changed), whose peer and applied-to clauses then stay as they are.
	freed := map[conjKey][]*conj{}
	for _, id := range d.RulesRemoved {
		r := c.rules[id]
		if r == nil {
			continue
		}
		c.markAppliedTo(r.AppliedTo)
		if delete(c.appliedBy[r.AppliedTo], id); len(c.appliedBy[r.AppliedTo]) == 0 {
			delete(c.appliedBy, r.AppliedTo)
		}
		for _, l := range r.named {
			c.unlink(l.group, c.conjs[l.key])
		}
		for _, k := range r.keys {
			if cj := c.conjs[k]; cj != nil {
				if cj.users--; cj.users == 0 {
					delete(c.conjs, k)
					freed[k.shape()] = append(freed[k.shape()], cj)
				}
			}
		}
		delete(c.rules, id)
	}
	for i := range d.RulesAdded {
		r := &rule{Rule: d.RulesAdded[i]}
		c.ruleConjs(r)
		c.rules[r.ID] = r
		if c.appliedBy[r.AppliedTo] == nil {
			c.appliedBy[r.AppliedTo] = map[policy.RuleID]struct{}{}
		}
		c.appliedBy[r.AppliedTo][r.ID] = struct{}{}
		c.markAppliedTo(r.AppliedTo)
		for _, k := range r.keys {
			if cj := c.conjs[k]; cj != nil {
				cj.users++
				continue
			}
			cj := &conj{key: k, users: 1}
			if k.ports != "" {
				cj.ports = r.Ports
			}
			if olds := freed[k.shape()]; len(olds) > 0 && k.ports != "" && olds[0].key.ports != "" {
				cj.id = olds[0].id // the same clauses but the ports: the links stay
				freed[k.shape()] = olds[1:]
				c.mark(portsOwner)
			} else {
				c.nextID++
				cj.id = c.nextID
				c.conjByID[cj.id] = cj
				c.markConj(cj)
				for _, g := range []policy.GroupID{k.peer, k.group} {
					c.link(g, cj)
				}
			}
			c.conjs[k] = cj
			c.conjByID[cj.id] = cj
		}
		for _, l := range r.named {
			c.link(l.group, c.conjs[l.key])
		}
	}
	for _, olds := range freed {
		for _, cj := range olds {
			c.markConj(cj)
			for _, g := range []policy.GroupID{cj.key.peer, cj.key.group} {
				c.unlink(g, cj)
			}
			delete(c.conjByID, cj.id)
		}
	}
	for _, ch := range d.Isolation {
		v := c.iso[ch.IP]
		v[ch.Direction] = ch.Isolated
		if v == ([2]bool{}) {
			delete(c.iso, ch.IP)
		} else {
			c.iso[ch.IP] = v
		}
		if key, ok := c.podByIP[ch.IP]; ok {
			c.mark(podOwner(key))
		}
	}
}

// link makes group g (0: none) a clause of conjunction cj; the first link marks the addresses of its members.
func (c *compiler) link(g policy.GroupID, cj *conj) {
	if g == 0 || cj == nil {
		return
	}
	if c.clauses[g] == nil {
		c.clauses[g] = map[uint32]int{}
	}
	if c.clauses[g][cj.id]++; c.clauses[g][cj.id] == 1 {
		c.markMembers(g, cj)
	}
}

// unlink undoes link; the last unlink marks the addresses of the members.
func (c *compiler) unlink(g policy.GroupID, cj *conj) {
	if g == 0 || cj == nil || c.clauses[g][cj.id] == 0 {
		return
	}
	if c.clauses[g][cj.id]--; c.clauses[g][cj.id] > 0 {
		return
	}
	c.markMembers(g, cj)
	if delete(c.clauses[g], cj.id); len(c.clauses[g]) == 0 {
		delete(c.clauses, g)
	}
}

// markMembers marks the address owners of group g's members as a clause of cj: only the local pods for an
// ingress named-port clause (see addressFlows). A group deleted in the same delta has had its addresses marked by
// its members' removal.
func (c *compiler) markMembers(g policy.GroupID, cj *conj) {
	gs := c.groups[g]
	if gs == nil {
		return
	}
	if gs.kind == policy.NamedPortGroup && cj.key.dir == policy.Ingress {
		c.markLocalMembers(g, gs, func(p netip.Prefix, _ string) { c.mark(addrOwner(p)) })
		return
	}
	for m := range gs.members {
		c.mark(addrOwner(m.Prefix))
	}
}

// markConj marks the owners of a conjunction's own flows: its conj_id flow and the ports. Its clauses are marked
// by links and by the rules' applied-to pods.
func (c *compiler) markConj(cj *conj) {
	c.mark(conjOwner(cj.id))
	if cj.key.ports != "" {
		c.mark(portsOwner)
	}
}

// markAppliedTo marks the local pods in an applied-to group.
func (c *compiler) markAppliedTo(id policy.GroupID) {
	if g := c.groups[id]; g != nil {
		c.markLocalMembers(id, g, func(_ netip.Prefix, key string) { c.mark(podOwner(key)) })
	}
}

// markLocalMembers calls fn for the members of group id that are local pods, going through the smaller of the
// group and the local pods.
func (c *compiler) markLocalMembers(id policy.GroupID, g *groupState, fn func(p netip.Prefix, podKey string)) {
	if len(g.members) > len(c.pods) {
		for key, lp := range c.pods {
			p := netip.PrefixFrom(lp.ip, lp.ip.BitLen())
			if _, ok := c.byPrefix[p][id]; ok {
				fn(p, key)
			}
		}
		return
	}
	for m := range g.members {
		if key, ok := c.podByIP[m.Prefix.Addr()]; ok && m.Prefix.IsSingleIP() {
			fn(m.Prefix, key)
		}
	}
}

func (c *compiler) addPrefix(id policy.GroupID, m policy.Member) {
	byGroup := c.byPrefix[m.Prefix]
	if byGroup == nil {
		byGroup = map[policy.GroupID][]uint16{}
		c.byPrefix[m.Prefix] = byGroup
	}
	if !slices.Contains(byGroup[id], m.Port) {
		byGroup[id] = append(byGroup[id], m.Port)
	}
}

func (c *compiler) removePrefix(id policy.GroupID, m policy.Member) {
	byGroup := c.byPrefix[m.Prefix]
	ports := slices.DeleteFunc(byGroup[id], func(p uint16) bool { return p == m.Port })
	switch {
	case len(ports) > 0:
		byGroup[id] = ports
	case len(byGroup) > 1:
		delete(byGroup, id)
	default:
		delete(c.byPrefix, m.Prefix)
	}
}

// setLocalPod records (or updates) a local pod's address and port; ofport 0 forgets the pod.
func (c *compiler) setLocalPod(key string, ip netip.Addr, ofport uint32) {
	old, had := c.pods[key]
	if had && old.ip == ip && old.ofport == ofport {
		return
	}
	if had && c.podByIP[old.ip] == key {
		delete(c.podByIP, old.ip)
	}
	if ofport == 0 || !ip.IsValid() {
		delete(c.pods, key)
	} else {
		c.pods[key] = localPod{ip: ip, ofport: ofport}
		c.podByIP[ip] = key
	}
	c.mark(podOwner(key))
	for _, ip := range []netip.Addr{old.ip, ip} {
		if ip.IsValid() {
			c.mark(addrOwner(netip.PrefixFrom(ip, ip.BitLen()))) // its ingress named-port clauses are local only
		}
	}
}

// markAll marks every owner that has flows, for a full computation.
func (c *compiler) markAll() {
	for id := range c.conjByID {
		c.mark(conjOwner(id))
	}
	for p := range c.byPrefix {
		c.mark(addrOwner(p))
	}
	for key := range c.pods {
		c.mark(podOwner(key))
	}
	c.mark(portsOwner)
}

// changes computes the flows of every dirty owner: an owner without flows is to be deleted. The dirty marks stay
// until clean is called with the applied changes.
func (c *compiler) changes() []flows.OwnerChange {
	out := make([]flows.OwnerChange, 0, len(c.dirty))
	for o := range c.dirty {
		f := c.ownerFlows(o)
		out = append(out, flows.OwnerChange{Owner: o, Flows: f, Delete: len(f) == 0})
	}
	slices.SortFunc(out, func(a, b flows.OwnerChange) int { return strings.Compare(a.Owner.Key, b.Owner.Key) })
	return out
}

// clean drops the dirty marks of applied changes.
func (c *compiler) clean(applied []flows.OwnerChange) {
	for _, ch := range applied {
		delete(c.dirty, ch.Owner)
	}
}

// ownerFlows computes an owner's flows from the indexes.
func (c *compiler) ownerFlows(o flows.Owner) []openflow.Flow {
	switch {
	case o == portsOwner:
		return c.portFlows()
	case strings.HasPrefix(o.Key, podPrefix):
		return c.podFlows(strings.TrimPrefix(o.Key, podPrefix))
	case strings.HasPrefix(o.Key, addrPrefix):
		p, err := netip.ParsePrefix(strings.TrimPrefix(o.Key, addrPrefix))
		if err != nil {
			return nil
		}
		return c.addressFlows(p)
	case strings.HasPrefix(o.Key, conjPrefix):
		id, err := strconv.ParseUint(strings.TrimPrefix(o.Key, conjPrefix), 10, 32)
		if err != nil {
			return nil
		}
		return c.conjFlows(uint32(id))
	}
	return nil
}
