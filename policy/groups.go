package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// selection is a pod selection: the pods of namespace ns (when nsSel is nil) or of every namespace nsSel matches,
// whose labels podSel matches.
type selection struct {
	ns     string
	nsSel  labels.Selector
	podSel labels.Selector
}

func (s selection) key() string {
	if s.nsSel == nil {
		return fmt.Sprintf("ns=%s {%s}", s.ns, s.podSel)
	}
	return fmt.Sprintf("ns{%s} {%s}", s.nsSel, s.podSel)
}

func (s selection) selects(p *podRec, nsLabels labels.Set) bool {
	if s.nsSel == nil {
		if p.ns != s.ns {
			return false
		}
	} else if !s.nsSel.Matches(nsLabels) {
		return false
	}
	return s.podSel.Matches(p.labels)
}

// groupDef is what a group's content is derived from; its key() is the group's identity.
type groupDef struct {
	kind     GroupKind
	sel      selection      // PodGroup; NamedPortGroup over pods
	cidrs    []netip.Prefix // CIDRGroup; NamedPortGroup over an ipBlock (sorted, non-overlapping)
	overCIDR bool           // NamedPortGroup: the base is cidrs, not sel
	proto    Protocol       // NamedPortGroup
	portName string         // NamedPortGroup
}

func (d *groupDef) key() string {
	switch d.kind {
	case PodGroup:
		return "pods " + d.sel.key()
	case CIDRGroup:
		return "cidrs " + prefixList(d.cidrs)
	}
	base := "pods " + d.sel.key()
	if d.overCIDR {
		base = "cidrs " + prefixList(d.cidrs)
	}
	return fmt.Sprintf("port %s/%s of %s", d.proto, d.portName, base)
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// contribution appends the members pod p brings to a group of this definition (none for a CIDRGroup, whose members
// are its prefixes).
func (d *groupDef) contribution(p *podRec, nsLabels labels.Set, out []Member) []Member {
	switch d.kind {
	case CIDRGroup:
		return out
	case PodGroup:
		if !d.sel.selects(p, nsLabels) {
			return out
		}
		for _, ip := range p.ips {
			out = append(out, Member{Prefix: hostPrefix(ip)})
		}
		return out
	}
	var buf [4]uint16
	ports := p.appendNamedPorts(d.portName, d.proto, buf[:0])
	if len(ports) == 0 || (!d.overCIDR && !d.sel.selects(p, nsLabels)) {
		return out
	}
	for _, ip := range p.ips {
		if !d.overCIDR || containsAddr(d.cidrs, ip) {
			for _, port := range ports {
				out = append(out, Member{Prefix: hostPrefix(ip), Port: port})
			}
		}
	}
	return out
}

// group is the store's live address group.
type group struct {
	id      GroupID
	def     groupDef
	key     string
	refs    int                 // policies holding the group (a policy counts once per use)
	isoRefs [2]int              // policies that isolate this group's pods, per Direction
	members map[Member]int      // member -> number of pods contributing it (CIDR members count 1)
	byPod   map[string][]Member // pod key -> its contribution
}

// has reports whether m is a member; for CIDR groups (and only them) an address inside a member prefix counts.
func (g *group) has(ip netip.Addr, port uint16) bool {
	if g.def.kind == CIDRGroup {
		return containsAddr(g.def.cidrs, ip)
	}
	return g.members[Member{Prefix: hostPrefix(ip), Port: port}] > 0
}

// public returns the group as the flows layer sees it.
func (g *group) public() Group {
	out := Group{ID: g.id, Kind: g.def.kind, Key: g.key, Protocol: g.def.proto, PortName: g.def.portName}
	out.Members = make([]Member, 0, len(g.members))
	for m := range g.members {
		out.Members = append(out.Members, m)
	}
	sortMembers(out.Members)
	return out
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
}

// acquire returns the group of def, creating it with its current membership if needed, and takes a reference.
func (s *Store) acquire(def groupDef) *group {
	key := def.key()
	if g := s.groups[key]; g != nil {
		g.refs++
		return g
	}
	s.nextGroup++
	g := &group{id: s.nextGroup, def: def, key: key, refs: 1, members: map[Member]int{}, byPod: map[string][]Member{}}
	s.groups[key] = g
	s.groupsByID[g.id] = g
	s.delta.groupCreated(g.id)
	switch {
	case def.kind == CIDRGroup:
		for _, p := range def.cidrs {
			s.incMember(g, Member{Prefix: p})
		}
		return g
	case def.overCIDR:
		s.cidrGroups[g] = struct{}{}
		for _, p := range s.pods {
			s.setContribution(g, p)
		}
	case def.sel.nsSel == nil:
		if s.nsGroups[def.sel.ns] == nil {
			s.nsGroups[def.sel.ns] = map[*group]struct{}{}
		}
		s.nsGroups[def.sel.ns][g] = struct{}{}
		for _, p := range s.podsByNs[def.sel.ns] {
			s.setContribution(g, p)
		}
	default:
		s.selGroups[g] = struct{}{}
		for ns, pods := range s.podsByNs {
			if def.sel.nsSel.Matches(s.nsLabels(ns)) {
				for _, p := range pods {
					s.setContribution(g, p)
				}
			}
		}
	}
	return g
}

// release drops a reference; the last one deletes the group, reporting its members as removed.
func (s *Store) release(g *group) {
	if g.refs--; g.refs > 0 {
		return
	}
	for m, n := range g.members {
		if n > 0 {
			g.members[m] = 1
			s.decMember(g, m)
		}
	}
	s.delta.groupDeleted(g.id)
	delete(s.groups, g.key)
	delete(s.groupsByID, g.id)
	delete(s.selGroups, g)
	delete(s.cidrGroups, g)
	if set := s.nsGroups[g.def.sel.ns]; set != nil {
		delete(set, g)
		if len(set) == 0 {
			delete(s.nsGroups, g.def.sel.ns)
		}
	}
}

// setContribution recomputes what pod p brings to g and applies the difference.
func (s *Store) setContribution(g *group, p *podRec) {
	s.scratch = g.def.contribution(p, s.nsLabels(p.ns), s.scratch[:0])
	old := g.byPod[p.key]
	if slices.Equal(old, s.scratch) {
		return
	}
	for _, m := range old {
		s.decMember(g, m)
	}
	if len(s.scratch) == 0 {
		delete(g.byPod, p.key)
		return
	}
	g.byPod[p.key] = slices.Clone(s.scratch)
	for _, m := range s.scratch {
		s.incMember(g, m)
	}
}

// dropContribution removes whatever the pod named key brought to g.
func (s *Store) dropContribution(g *group, key string) {
	for _, m := range g.byPod[key] {
		s.decMember(g, m)
	}
	delete(g.byPod, key)
}

func (s *Store) incMember(g *group, m Member) {
	if g.members[m]++; g.members[m] == 1 {
		s.delta.member(g.id, m, +1)
		s.isolate(g, m.Prefix.Addr(), +1)
	}
}

func (s *Store) decMember(g *group, m Member) {
	if g.members[m]--; g.members[m] <= 0 {
		delete(g.members, m)
		s.delta.member(g.id, m, -1)
		s.isolate(g, m.Prefix.Addr(), -1)
	}
}
