package flows

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// fakeSwitch simulates the flow and group tables of a bridge the way OVS treats bundles:
// flows are keyed by table, priority and match; an add replaces the flow with the same key
// (cookie included); a strict modify changes only the actions of an existing flow; a bundle
// applies all of its mods or none.
type fakeSwitch struct {
	mu       sync.Mutex
	flows    map[string]openflow.Flow
	groups   map[uint32]openflow.Group
	bundles  [][]openflow.Mod
	failNext error    // returned by the next Bundle, which then changes nothing
	events   []string // "bundle" and "delete-flows" calls in order
	// rejectActions, if set, makes a bundle with a flow of these actions fail as a whole, as OVS rejects a bundle
	// with one bad mod.
	rejectActions string
	// hold, if set, makes Bundle announce itself on entered and wait for hold before doing anything.
	hold, entered chan struct{}
}

func newFakeSwitch() *fakeSwitch {
	return &fakeSwitch{flows: map[string]openflow.Flow{}, groups: map[uint32]openflow.Group{}}
}

func (s *fakeSwitch) Bundle(_ context.Context, mods []openflow.Mod) error {
	s.mu.Lock()
	hold, entered := s.hold, s.entered
	s.mu.Unlock()
	if hold != nil {
		entered <- struct{}{}
		<-hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range mods {
		if s.rejectActions != "" && m.Flow.Actions == s.rejectActions {
			return fmt.Errorf("switch rejects %s", m.Flow.Key())
		}
	}
	if err := s.failNext; err != nil {
		s.failNext = nil
		return err
	}
	flows, groups := maps.Clone(s.flows), maps.Clone(s.groups)
	for i, m := range mods {
		if err := apply(flows, groups, m); err != nil {
			return fmt.Errorf("bundle mod %d: %w", i, err)
		}
	}
	s.flows, s.groups = flows, groups
	s.bundles = append(s.bundles, mods)
	s.events = append(s.events, "bundle")
	return nil
}

func apply(flows map[string]openflow.Flow, groups map[uint32]openflow.Group, m openflow.Mod) error {
	key := m.Flow.Key()
	switch m.Op {
	case openflow.AddFlow:
		flows[key] = m.Flow
	case openflow.ModifyFlow:
		if f, ok := flows[key]; ok {
			f.Actions = m.Flow.Actions
			flows[key] = f
		}
	case openflow.DeleteFlow:
		delete(flows, key)
	case openflow.AddGroup:
		if _, ok := groups[m.Group.ID]; ok {
			return fmt.Errorf("group %d exists", m.Group.ID)
		}
		groups[m.Group.ID] = m.Group
	case openflow.ModifyGroup:
		if _, ok := groups[m.Group.ID]; !ok {
			return fmt.Errorf("group %d does not exist", m.Group.ID)
		}
		groups[m.Group.ID] = m.Group
	case openflow.DeleteGroup:
		delete(groups, m.Group.ID)
		for k, f := range flows { // OVS removes the flows that use the group
			if slices.Contains(strings.Split(f.Actions, ","), fmt.Sprintf("group:%d", m.Group.ID)) {
				delete(flows, k)
			}
		}
	default:
		return fmt.Errorf("unknown op %d", m.Op)
	}
	return nil
}

func (s *fakeSwitch) DumpFlows(context.Context) ([]openflow.Flow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.flows)), nil
}

func (s *fakeSwitch) DumpGroups(context.Context) ([]openflow.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.groups)), nil
}

func (s *fakeSwitch) DeleteFlows(_ context.Context, cookie, mask uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, fmt.Sprintf("delete-flows %#x/%#x", cookie, mask))
	for k, f := range s.flows {
		if f.Cookie&mask == cookie&mask {
			delete(s.flows, k)
		}
	}
	return nil
}

// lastBundle returns the mods of the last successful bundle.
func (s *fakeSwitch) lastBundle() []openflow.Mod {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bundles) == 0 {
		return nil
	}
	return s.bundles[len(s.bundles)-1]
}

// table returns the installed flows as sorted "key cookie actions" lines.
func (s *fakeSwitch) table() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, f := range s.flows {
		lines = append(lines, fmt.Sprintf("%s cookie=%#x actions=%s", f.Key(), f.Cookie, f.Actions))
	}
	slices.Sort(lines)
	return lines
}
