package networkpolicy

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// compiler keeps what the policy flows are computed from: the groups and rules of the model (as the deltas
// reported them), the isolation of pod addresses, and the local pods' OpenFlow ports. A change marks the owners
// whose flows may differ; changes() computes them. It is not safe for concurrent use (the controller's worker
// owns it).
type compiler struct {
	groups   map[policy.GroupID]*groupState
	rules    map[policy.RuleID]*rule
	bases    map[ruleKey]uint32 // conjunction id base of each rule position
	nextBase uint32
	refs     map[policy.GroupID]map[policy.RuleID]struct{}   // rules using a group in any role
	byPolicy map[policy.PolicyKey]map[policy.RuleID]struct{} // a policy's rules
	byPrefix map[netip.Prefix]map[policy.GroupID][]uint16    // groups with a member at a prefix, and its ports
	iso      map[netip.Addr][2]bool                          // isolation per policy.Direction
	pods     map[string]localPod                             // local pods by namespace/name
	podByIP  map[netip.Addr]string                           // local pods by address
	dirty    map[flows.Owner]struct{}                        // owners whose flows may have changed
}

// groupState is a group as the deltas built it.
type groupState struct {
	kind    policy.GroupKind
	proto   policy.Protocol
	members map[policy.Member]struct{}
}

// localPod is a pod of this node with an OpenFlow port.
type localPod struct {
	ip     netip.Addr
	ofport uint32
}

func newCompiler() *compiler {
	return &compiler{
		groups: map[policy.GroupID]*groupState{}, rules: map[policy.RuleID]*rule{}, bases: map[ruleKey]uint32{},
		refs: map[policy.GroupID]map[policy.RuleID]struct{}{}, byPolicy: map[policy.PolicyKey]map[policy.RuleID]struct{}{},
		byPrefix: map[netip.Prefix]map[policy.GroupID][]uint16{}, iso: map[netip.Addr][2]bool{},
		pods: map[string]localPod{}, podByIP: map[netip.Addr]string{}, dirty: map[flows.Owner]struct{}{},
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
			g = &groupState{kind: gd.Kind, proto: gd.Protocol, members: map[policy.Member]struct{}{}}
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
	// A rule that replaces the rule at the same position of its policy keeps its conjunction ids; when it also
	// keeps its groups and the shape of its conjunctions, only its policy's and the port flows can change.
	removed := map[ruleKey]*rule{}
	for _, id := range d.RulesRemoved {
		if r := c.rules[id]; r != nil {
			removed[r.key()] = r
		}
	}
	kept := map[policy.RuleID]bool{}
	for i := range d.RulesAdded {
		r := &rule{Rule: d.RulesAdded[i]}
		k := r.key()
		if base, ok := c.bases[k]; ok {
			r.base = base
		} else {
			c.nextBase++
			r.base = c.nextBase
			c.bases[k] = r.base
		}
		c.rules[r.ID] = r
		for _, g := range ruleGroups(&r.Rule) {
			if c.refs[g] == nil {
				c.refs[g] = map[policy.RuleID]struct{}{}
			}
			c.refs[g][r.ID] = struct{}{}
		}
		if c.byPolicy[r.Policy] == nil {
			c.byPolicy[r.Policy] = map[policy.RuleID]struct{}{}
		}
		c.byPolicy[r.Policy][r.ID] = struct{}{}
		if old := removed[k]; old != nil && sameShape(old, r) {
			kept[old.ID] = true
			c.mark(policyOwner(r.Policy))
			c.mark(portsOwner)
			continue
		}
		c.markRule(r)
	}
	for _, id := range d.RulesRemoved {
		r := c.rules[id]
		if r == nil {
			continue
		}
		if kept[id] {
			c.mark(portsOwner)
		} else {
			c.markRule(r)
		}
		for _, g := range ruleGroups(&r.Rule) {
			if delete(c.refs[g], id); len(c.refs[g]) == 0 {
				delete(c.refs, g)
			}
		}
		if delete(c.byPolicy[r.Policy], id); len(c.byPolicy[r.Policy]) == 0 {
			delete(c.byPolicy, r.Policy)
		}
		delete(c.rules, id)
		if !c.positionUsed(r.key()) {
			delete(c.bases, r.key())
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

// ruleGroups lists the groups a rule uses.
func ruleGroups(r *policy.Rule) []policy.GroupID {
	return append(append([]policy.GroupID{r.AppliedTo}, r.Peers...), r.NamedPorts...)
}

// positionUsed says whether a rule at position k is installed.
func (c *compiler) positionUsed(k ruleKey) bool {
	for id := range c.byPolicy[k.policy] {
		if c.rules[id].key() == k {
			return true
		}
	}
	return false
}

// markRule marks every owner a rule has flows in: its policy, the ports, the addresses of its peer and named-port
// groups, and the local pods it applies to.
func (c *compiler) markRule(r *rule) {
	c.mark(policyOwner(r.Policy))
	if l, ok := numericConj(r); ok && l.port > 0 {
		c.mark(portsOwner)
	}
	for _, id := range append(slices.Clone(r.Peers), r.NamedPorts...) {
		if g := c.groups[id]; g != nil {
			for m := range g.members {
				c.mark(addrOwner(m.Prefix))
			}
		}
	}
	if g := c.groups[r.AppliedTo]; g != nil {
		for m := range g.members {
			if key, ok := c.podByIP[m.Prefix.Addr()]; ok {
				c.mark(podOwner(key))
			}
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
	for k := range c.byPolicy {
		c.mark(policyOwner(k))
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
	}
	ns, name, _ := strings.Cut(o.Key, "/")
	return c.policyFlows(policy.PolicyKey{Namespace: ns, Name: name})
}
