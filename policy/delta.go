package policy

import (
	"net/netip"
	"slices"
)

// Delta is the net change of the model since the previous TakeDelta (or Resync). Changes that cancel out within
// the window (a member added then removed, a rule added then removed) do not appear. A flows layer applies it in
// one bundle, in this order so no packet sees a rule without its groups:
//
//  1. Groups with Created or Added: install their member flows;
//  2. RulesAdded: install their conjunction and port flows;
//  3. Isolation: add or remove the per-pod default-drop flows;
//  4. RulesRemoved: delete their flows;
//  5. Groups with Removed or Deleted: delete those member flows (Deleted groups list every member they had).
type Delta struct {
	Groups       []GroupDelta // sorted by ID
	RulesAdded   []Rule       // sorted by ID
	RulesRemoved []RuleID     // sorted
	Isolation    []IsolationChange
}

// Empty reports whether the delta changes nothing.
func (d *Delta) Empty() bool {
	return len(d.Groups) == 0 && len(d.RulesAdded) == 0 && len(d.RulesRemoved) == 0 && len(d.Isolation) == 0
}

// GroupDelta is the change of one group. Kind, Key, Protocol and PortName describe the group as in Group.
type GroupDelta struct {
	Group            // ID, Kind, Key, Protocol, PortName; Members is nil
	Created, Deleted bool
	Added, Removed   []Member // sorted
}

// IsolationChange says that a pod address became isolated (or stopped being isolated) in one direction.
type IsolationChange struct {
	IP        netip.Addr
	Direction Direction
	Isolated  bool
}

// pendingDelta accumulates net changes between two TakeDelta calls.
type pendingDelta struct {
	groups map[GroupID]*groupPending
	rules  map[RuleID]int
	iso    map[isoKey]bool // isolation at the previous take
}

type groupPending struct {
	existed bool // the group existed at the previous take
	net     map[Member]int
}

type isoKey struct {
	ip  netip.Addr
	dir Direction
}

func newPendingDelta() pendingDelta {
	return pendingDelta{groups: map[GroupID]*groupPending{}, rules: map[RuleID]int{}, iso: map[isoKey]bool{}}
}

func (p *pendingDelta) groupCreated(id GroupID) {
	p.groups[id] = &groupPending{net: map[Member]int{}}
}

// groupDeleted makes sure a deleted group that existed at the previous take is reported, even without members.
func (p *pendingDelta) groupDeleted(id GroupID) {
	if p.groups[id] == nil {
		p.groups[id] = &groupPending{existed: true, net: map[Member]int{}}
	}
}

func (p *pendingDelta) member(id GroupID, m Member, sign int) {
	gp := p.groups[id]
	if gp == nil {
		gp = &groupPending{existed: true, net: map[Member]int{}}
		p.groups[id] = gp
	}
	if gp.net[m] += sign; gp.net[m] == 0 {
		delete(gp.net, m)
	}
}

func (p *pendingDelta) rule(id RuleID, sign int) {
	if p.rules[id] += sign; p.rules[id] == 0 {
		delete(p.rules, id)
	}
}

// isolation records the state of (ip, d) before its first change in the window.
func (p *pendingDelta) isolation(ip netip.Addr, d Direction, was bool) {
	k := isoKey{ip, d}
	if _, ok := p.iso[k]; !ok {
		p.iso[k] = was
	}
}

// TakeDelta returns the changes since the previous TakeDelta or Resync and starts a new window. The first call
// on a store that was filled from empty returns everything, so it also serves as the initial full sync.
func (s *Store) TakeDelta() Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d Delta
	for id, gp := range s.delta.groups {
		g := s.groupsByID[id]
		if g == nil && !gp.existed {
			continue
		}
		gd := GroupDelta{Created: !gp.existed && g != nil, Deleted: gp.existed && g == nil}
		if g != nil {
			gd.Group = Group{ID: id, Kind: g.def.kind, Key: g.key, Protocol: g.def.proto, PortName: g.def.portName}
		} else {
			gd.Group = Group{ID: id}
		}
		for m, n := range gp.net {
			if n > 0 {
				gd.Added = append(gd.Added, m)
			} else {
				gd.Removed = append(gd.Removed, m)
			}
		}
		if gd.Created || gd.Deleted || len(gd.Added)+len(gd.Removed) > 0 {
			sortMembers(gd.Added)
			sortMembers(gd.Removed)
			d.Groups = append(d.Groups, gd)
		}
	}
	slices.SortFunc(d.Groups, func(a, b GroupDelta) int { return int(a.ID) - int(b.ID) })
	for id, n := range s.delta.rules {
		if n > 0 {
			d.RulesAdded = append(d.RulesAdded, *s.rules[id])
		} else {
			d.RulesRemoved = append(d.RulesRemoved, id)
		}
	}
	slices.SortFunc(d.RulesAdded, func(a, b Rule) int { return int(a.ID) - int(b.ID) })
	slices.Sort(d.RulesRemoved)
	for k, was := range s.delta.iso {
		if now := s.isolated(k.ip, k.dir); now != was {
			d.Isolation = append(d.Isolation, IsolationChange{IP: k.ip, Direction: k.dir, Isolated: now})
		}
	}
	sortIsolation(d.Isolation)
	s.delta = newPendingDelta()
	return d
}

// Resync drops the pending changes and returns the whole model as a delta from nothing: every group Created with
// all its members, every rule added, every isolated address. Use it when the flows were lost (switch restart).
func (s *Store) Resync() Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d Delta
	for _, g := range s.groupsByID {
		pub := g.public()
		d.Groups = append(d.Groups, GroupDelta{Group: Group{ID: g.id, Kind: pub.Kind, Key: pub.Key,
			Protocol: pub.Protocol, PortName: pub.PortName}, Created: true, Added: pub.Members})
	}
	slices.SortFunc(d.Groups, func(a, b GroupDelta) int { return int(a.ID) - int(b.ID) })
	for _, r := range s.rules {
		d.RulesAdded = append(d.RulesAdded, *r)
	}
	slices.SortFunc(d.RulesAdded, func(a, b Rule) int { return int(a.ID) - int(b.ID) })
	for ip, c := range s.iso {
		for dir, n := range c {
			if n > 0 {
				d.Isolation = append(d.Isolation, IsolationChange{IP: ip, Direction: Direction(dir), Isolated: true})
			}
		}
	}
	sortIsolation(d.Isolation)
	s.delta = newPendingDelta()
	return d
}

func sortIsolation(c []IsolationChange) {
	slices.SortFunc(c, func(a, b IsolationChange) int {
		if x := a.IP.Compare(b.IP); x != 0 {
			return x
		}
		return int(a.Direction) - int(b.Direction)
	})
}
