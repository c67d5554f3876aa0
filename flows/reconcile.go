package flows

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Reconcile makes the bridge hold exactly the desired state, without a gap in forwarding:
//
//  1. dump the bridge and pick a new round that no flow on it carries (never 0, so foreign
//     flows with cookie 0 always belong to a stale round);
//  2. in one bundle, add or modify every desired group and add every desired flow stamped with
//     the new round (an add replaces an existing flow with the same match atomically);
//  3. delete the flows of every other round, then the groups nobody desires.
//
// If step 2 fails nothing changed. If step 3 fails the bridge forwards with the desired flows
// but keeps stale ones; calling Reconcile again removes them.
func (s *Store) Reconcile(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	flows, err := s.sw.DumpFlows(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: dumping flows: %w", err)
	}
	groups, err := s.sw.DumpGroups(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: dumping groups: %w", err)
	}
	present := map[uint16]bool{}
	for _, f := range flows {
		round, _, _ := ParseCookie(f.Cookie)
		present[round] = true
	}
	round, err := s.pickRound(present)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	existing := map[uint32]bool{}
	for _, g := range groups {
		existing[g.ID] = true
	}
	if err := s.bundle(ctx, s.fullSync(round, existing)); err != nil {
		return fmt.Errorf("reconcile: installing round %d: %w", round, err)
	}
	s.round = round

	for _, stale := range slices.Sorted(maps.Keys(present)) {
		cookie, mask := RoundCookie(stale)
		if err := s.sw.DeleteFlows(ctx, cookie, mask); err != nil {
			return fmt.Errorf("reconcile: deleting flows of round %d: %w", stale, err)
		}
	}
	var deletes []openflow.Mod
	for _, g := range groups {
		if _, desired := s.groupOwner[g.ID]; !desired {
			deletes = append(deletes, openflow.Mod{Op: openflow.DeleteGroup, Group: openflow.Group{ID: g.ID}})
		}
	}
	if err := s.bundle(ctx, deletes); err != nil {
		return fmt.Errorf("reconcile: deleting stale groups: %w", err)
	}
	return nil
}

// pickRound returns the round after the current one that no flow on the bridge carries.
func (s *Store) pickRound(present map[uint16]bool) (uint16, error) {
	round := s.round
	for range 1 << 16 {
		round++
		if round != 0 && !present[round] {
			return round, nil
		}
	}
	return 0, fmt.Errorf("every cookie round is in use on the bridge")
}

// fullSync returns the mods that install every desired group and flow stamped with round.
func (s *Store) fullSync(round uint16, existingGroups map[uint32]bool) []openflow.Mod {
	var groupMods, flowMods []openflow.Mod
	for _, owner := range s.sortedOwners() {
		st := s.owners[owner]
		for _, g := range sortedGroups(st.groups) {
			op := openflow.AddGroup
			if existingGroups[g.ID] {
				op = openflow.ModifyGroup
			}
			groupMods = append(groupMods, openflow.Mod{Op: op, Group: g})
		}
		cookie := MakeCookie(round, owner.Category, st.id)
		for _, f := range sortedFlows(st.flows) {
			f.Cookie = cookie
			flowMods = append(flowMods, openflow.Mod{Op: openflow.AddFlow, Flow: f})
		}
	}
	return append(groupMods, flowMods...)
}
