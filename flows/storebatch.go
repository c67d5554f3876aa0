package flows

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// OwnerChange is one owner's part of a batch (Store.Apply): its new desired flows and groups, or
// Delete to remove it.
type OwnerChange struct {
	Owner  Owner
	Flows  []openflow.Flow
	Groups []openflow.Group
	Delete bool
}

// Apply is Set (or Delete) for several owners in one bundle: each owner's difference from its
// previous state, ordered across the batch as group adds and modifications, flow adds, flow deletes,
// group deletes. Flows and groups may move between owners of the same batch. If the bundle fails,
// the desired state of every owner is left as it was. An owner may appear only once; deleting an
// unknown owner does nothing. Apply is how a controller whose objects share flows (NetworkPolicy's
// address and port clauses) changes several owners atomically.
func (s *Store) Apply(ctx context.Context, changes []OwnerChange) (err error) {
	if len(changes) == 0 {
		return nil
	}
	defer func(t0 time.Time) { s.observed(changes[0].Owner, t0, err) }(time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyLocked(ctx, changes)
}

// applyLocked is Apply under s.mu.
func (s *Store) applyLocked(ctx context.Context, changes []OwnerChange) (err error) {
	if s.round == 0 {
		return fmt.Errorf("applying flows of %d owners: %w", len(changes), ErrNotReconciled)
	}
	olds := make([]*ownerState, len(changes))
	nexts := make([]*ownerState, len(changes))
	seen := make(map[Owner]bool, len(changes))
	for i, c := range changes {
		if seen[c.Owner] {
			return fmt.Errorf("owner %s appears twice in one batch", c.Owner)
		}
		seen[c.Owner] = true
		olds[i] = s.owners[c.Owner]
	}
	// Unindex every old state first, so that a flow may move from one owner of the batch to another.
	for i, c := range changes {
		if olds[i] != nil {
			s.unindex(c.Owner, olds[i])
		}
	}
	undo := func(indexed int) {
		for j := 0; j < indexed; j++ {
			s.unindex(changes[j].Owner, nexts[j])
		}
		for j, c := range changes {
			if olds[j] != nil {
				s.index(c.Owner, olds[j])
			}
		}
	}
	for i, c := range changes {
		next := &ownerState{flows: map[string]openflow.Flow{}, groups: map[uint32]openflow.Group{}}
		if !c.Delete {
			if next, err = s.desire(c.Owner, c.Flows, c.Groups); err != nil {
				undo(i)
				return err
			}
		}
		nexts[i] = next
		s.index(c.Owner, next)
	}
	var allocated []uint64
	var groupAdds, flowAdds, flowDels, groupDels []openflow.Mod
	for i, c := range changes {
		old := olds[i]
		if old == nil {
			if c.Delete {
				continue
			}
			id, err := s.ids.allocate()
			if err != nil {
				for _, id := range allocated {
					s.ids.release(id)
				}
				undo(len(changes))
				return fmt.Errorf("owner %s: %w", c.Owner, err)
			}
			allocated = append(allocated, id)
			nexts[i].id = id
			old = &ownerState{}
		} else {
			nexts[i].id = old.id
		}
		for _, m := range s.diff(c.Owner, nexts[i].id, old, nexts[i]) {
			switch m.Op {
			case openflow.AddGroup, openflow.ModifyGroup:
				groupAdds = append(groupAdds, m)
			case openflow.AddFlow:
				flowAdds = append(flowAdds, m)
			case openflow.DeleteFlow:
				if s.flowOwner[m.Flow.Key()] == (Owner{}) { // not moved to another owner of the batch
					flowDels = append(flowDels, m)
				}
			default:
				if s.groupOwner[m.Group.ID] == (Owner{}) {
					groupDels = append(groupDels, m)
				}
			}
		}
	}
	mods := append(append(append(groupAdds, flowAdds...), flowDels...), groupDels...)
	if err := s.bundle(ctx, mods); err != nil {
		for _, id := range allocated {
			s.ids.release(id)
		}
		undo(len(changes))
		return fmt.Errorf("applying flows of %d owners (%s first): %w", len(changes), changes[0].Owner, err)
	}
	for i, c := range changes {
		switch {
		case c.Delete && olds[i] != nil:
			delete(s.owners, c.Owner)
			delete(s.byID, olds[i].id)
			s.ids.release(olds[i].id)
		case !c.Delete:
			s.owners[c.Owner] = nexts[i]
			s.byID[nexts[i].id] = c.Owner
		}
	}
	return nil
}

// index records an owner's flows and groups in the store's key indexes.
func (s *Store) index(owner Owner, st *ownerState) {
	for key := range st.flows {
		s.flowOwner[key] = owner
	}
	for id := range st.groups {
		s.groupOwner[id] = owner
	}
}
