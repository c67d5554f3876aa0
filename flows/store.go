package flows

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Owner is the object a set of flows and groups belongs to, e.g. {Pod, "default/web-1"} or
// {Pipeline, "node"}.
type Owner struct {
	Category Category
	Key      string
}

// String returns "Category/Key", e.g. "Pod/default/web-1".
func (o Owner) String() string { return o.Category.String() + "/" + o.Key }

// Switch is the bridge the Store programs (implemented by the ovs/openflow client).
type Switch interface {
	Bundle(ctx context.Context, mods []openflow.Mod) error      // one atomic ovs-ofctl bundle
	DumpFlows(ctx context.Context) ([]openflow.Flow, error)     // all flows of the bridge, with cookies
	DumpGroups(ctx context.Context) ([]openflow.Group, error)   // all groups of the bridge
	DeleteFlows(ctx context.Context, cookie, mask uint64) error // del-flows cookie=value/mask
}

// ErrNotReconciled is returned by Set and Delete before the first successful Reconcile: until
// then the bridge's content is unknown, so a difference cannot be applied to it.
var ErrNotReconciled = errors.New("flow store has not been reconciled with the bridge yet")

// Store keeps the desired flows and groups of every owner and applies changes to the bridge as
// atomic bundles. It is safe for concurrent use; bundles are applied one at a time.
//
// Life cycle: on agent start, Stage the desired state of every owner, then Reconcile; after
// that, Set and Delete owners. Reconcile may be called again at any time (e.g. after
// ovs-vswitchd restarted and lost its flows).
type Store struct {
	sw Switch

	mu         sync.Mutex
	round      uint16 // round of the cookies on the bridge; 0 until the first Reconcile
	ids        idAllocator
	owners     map[Owner]*ownerState
	byID       map[uint64]Owner
	flowOwner  map[string]Owner // flow Key -> owner
	groupOwner map[uint32]Owner // group id -> owner

	queueMu sync.Mutex
	queue   []*pendingChange // Sets and Deletes waiting for the next group commit

	observe func(Owner, time.Duration, error) // see Observe
}

// Observe registers a function told how long each Set or Delete took (waiting for the store included) and how it
// ended, for programming-latency metrics. Call it before using the store.
func (s *Store) Observe(fn func(owner Owner, took time.Duration, err error)) { s.observe = fn }

// observed reports a Set or Delete that started at t0.
func (s *Store) observed(owner Owner, t0 time.Time, err error) {
	if s.observe != nil {
		s.observe(owner, time.Since(t0), err)
	}
}

// ownerState is the desired state of one owner. Flows are kept without cookie; the cookie is
// stamped (round|category|id) when they are sent to the bridge or listed.
type ownerState struct {
	id     uint64
	flows  map[string]openflow.Flow
	groups map[uint32]openflow.Group
}

// NewStore returns an empty Store that programs sw.
func NewStore(sw Switch) *Store {
	return &Store{
		sw:         sw,
		owners:     map[Owner]*ownerState{},
		byID:       map[uint64]Owner{},
		flowOwner:  map[string]Owner{},
		groupOwner: map[uint32]Owner{},
	}
}

// desire validates an owner's new desired state and indexes it. Flows are matched by Key;
// a key or group id that belongs to another owner is an error naming both owners.
func (s *Store) desire(owner Owner, flows []openflow.Flow, groups []openflow.Group) (*ownerState, error) {
	if owner.Category == 0 {
		return nil, fmt.Errorf("owner %q has no category", owner.Key)
	}
	next := &ownerState{flows: make(map[string]openflow.Flow, len(flows)), groups: make(map[uint32]openflow.Group, len(groups))}
	for _, f := range flows {
		key := f.Key()
		if _, dup := next.flows[key]; dup {
			return nil, fmt.Errorf("owner %s has two flows %s", owner, key)
		}
		if other, taken := s.flowOwner[key]; taken && other != owner {
			return nil, fmt.Errorf("flow %s of owner %s is already owned by %s", key, owner, other)
		}
		f.Cookie, f.Packets, f.Bytes = 0, 0, 0
		next.flows[key] = f
	}
	for _, g := range groups {
		if _, dup := next.groups[g.ID]; dup {
			return nil, fmt.Errorf("owner %s has two groups with id %d", owner, g.ID)
		}
		if other, taken := s.groupOwner[g.ID]; taken && other != owner {
			return nil, fmt.Errorf("group %d of owner %s is already owned by %s", g.ID, owner, other)
		}
		next.groups[g.ID] = g
	}
	return next, nil
}

// install makes next the owner's desired state, allocating its id if it is new.
func (s *Store) install(owner Owner, next *ownerState) error {
	if old, ok := s.owners[owner]; ok {
		next.id = old.id
		s.unindex(owner, old)
	} else {
		id, err := s.ids.allocate()
		if err != nil {
			return fmt.Errorf("owner %s: %w", owner, err)
		}
		next.id = id
		s.byID[id] = owner
	}
	s.owners[owner] = next
	for key := range next.flows {
		s.flowOwner[key] = owner
	}
	for id := range next.groups {
		s.groupOwner[id] = owner
	}
	return nil
}

func (s *Store) unindex(owner Owner, st *ownerState) {
	for key := range st.flows {
		delete(s.flowOwner, key)
	}
	for id := range st.groups {
		delete(s.groupOwner, id)
	}
}

// Stage records an owner's desired state without touching the bridge; the first Reconcile
// installs it. Staging is for rebuilding the desired state on start: after the first Reconcile
// it is an error, use Set.
func (s *Store) Stage(owner Owner, flows []openflow.Flow, groups []openflow.Group) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.round != 0 {
		return fmt.Errorf("staging owner %s: the store is already reconciled, use Set", owner)
	}
	next, err := s.desire(owner, flows, groups)
	if err != nil {
		return err
	}
	return s.install(owner, next)
}

// Set makes flows and groups the desired state of owner and applies only the difference to the
// previous one, in one bundle: group adds and modifications, then flow adds and deletes, then
// group deletes. A flow whose actions changed is re-added rather than modified: AddFlow stamps
// the cookie of the current round (ModifyFlow would keep whatever cookie the bridge has) and
// restores the flow if it went missing; its counters restart. If the bundle fails, the
// desired state is left as it was.
//
// Concurrent Sets and Deletes of different owners are committed together (see commit): one
// bundle for all of them, so N pods attached at once cost one ovs-ofctl run, not N.
func (s *Store) Set(ctx context.Context, owner Owner, flows []openflow.Flow, groups []openflow.Group) (err error) {
	defer func(t0 time.Time) { s.observed(owner, t0, err) }(time.Now())
	return s.commit(ctx, OwnerChange{Owner: owner, Flows: flows, Groups: groups})
}

// setLocked is Set for one owner alone, under s.mu.
func (s *Store) setLocked(ctx context.Context, owner Owner, flows []openflow.Flow, groups []openflow.Group) error {
	if s.round == 0 {
		return fmt.Errorf("setting flows of %s: %w", owner, ErrNotReconciled)
	}
	next, err := s.desire(owner, flows, groups)
	if err != nil {
		return err
	}
	old, existed := s.owners[owner]
	if !existed {
		old = &ownerState{}
	}
	// Allocate first so that the cookie is known; undo if the bundle fails.
	if err := s.install(owner, next); err != nil {
		return err
	}
	mods := s.diff(owner, next.id, old, next)
	if err := s.bundle(ctx, mods); err != nil {
		s.rollback(owner, old, existed)
		return fmt.Errorf("applying flows of %s: %w", owner, err)
	}
	return nil
}

// rollback restores the owner's previous desired state after a failed bundle.
func (s *Store) rollback(owner Owner, old *ownerState, existed bool) {
	if existed {
		_ = s.install(owner, old) // the owner keeps its id: cannot fail
		return
	}
	s.forget(owner)
}

// forget drops an owner's desired state and frees its id.
func (s *Store) forget(owner Owner) {
	st := s.owners[owner]
	s.unindex(owner, st)
	delete(s.owners, owner)
	delete(s.byID, st.id)
	s.ids.release(st.id)
}

// diff returns the mods that turn the owner's old state into next.
func (s *Store) diff(owner Owner, id uint64, old, next *ownerState) []openflow.Mod {
	var mods []openflow.Mod
	for _, g := range sortedGroups(next.groups) {
		prev, had := old.groups[g.ID]
		switch {
		case !had:
			mods = append(mods, openflow.Mod{Op: openflow.AddGroup, Group: g})
		case !reflect.DeepEqual(prev, g):
			mods = append(mods, openflow.Mod{Op: openflow.ModifyGroup, Group: g})
		}
	}
	cookie := MakeCookie(s.round, owner.Category, id)
	for _, f := range sortedFlows(next.flows) {
		if prev, had := old.flows[f.Key()]; !had || prev.Actions != f.Actions {
			f.Cookie = cookie
			mods = append(mods, openflow.Mod{Op: openflow.AddFlow, Flow: f})
		}
	}
	for _, f := range sortedFlows(old.flows) {
		if _, keep := next.flows[f.Key()]; !keep {
			mods = append(mods, openflow.Mod{Op: openflow.DeleteFlow, Flow: f})
		}
	}
	for _, g := range sortedGroups(old.groups) {
		if _, keep := next.groups[g.ID]; !keep {
			mods = append(mods, openflow.Mod{Op: openflow.DeleteGroup, Group: openflow.Group{ID: g.ID}})
		}
	}
	return mods
}

func (s *Store) bundle(ctx context.Context, mods []openflow.Mod) error {
	if len(mods) == 0 {
		return nil
	}
	return s.sw.Bundle(ctx, mods)
}

// Delete removes all flows and groups of owner in one bundle and frees its id. Deleting an
// unknown owner does nothing. Like Set, concurrent calls share a bundle.
func (s *Store) Delete(ctx context.Context, owner Owner) (err error) {
	defer func(t0 time.Time) { s.observed(owner, t0, err) }(time.Now())
	return s.commit(ctx, OwnerChange{Owner: owner, Delete: true})
}

// deleteLocked is Delete for one owner alone, under s.mu.
func (s *Store) deleteLocked(ctx context.Context, owner Owner) error {
	if s.round == 0 {
		return fmt.Errorf("deleting flows of %s: %w", owner, ErrNotReconciled)
	}
	old, ok := s.owners[owner]
	if !ok {
		return nil
	}
	if err := s.bundle(ctx, s.diff(owner, old.id, old, &ownerState{})); err != nil {
		return fmt.Errorf("deleting flows of %s: %w", owner, err)
	}
	s.forget(owner)
	return nil
}
