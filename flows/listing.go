package flows

import (
	"sort"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// OwnedFlows is the desired state of one owner, with cookies stamped for the current round.
type OwnedFlows struct {
	Owner  Owner
	ID     uint64 // object id in the cookie
	Flows  []openflow.Flow
	Groups []openflow.Group
}

// Owners lists every owner with its desired flows and groups, ordered by category and key.
func (s *Store) Owners() []OwnedFlows {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []OwnedFlows
	for _, owner := range s.sortedOwners() {
		st := s.owners[owner]
		cookie := MakeCookie(s.round, owner.Category, st.id)
		flows := sortedFlows(st.flows)
		for i := range flows {
			flows[i].Cookie = cookie
		}
		out = append(out, OwnedFlows{Owner: owner, ID: st.id, Flows: flows, Groups: sortedGroups(st.groups)})
	}
	return out
}

// OwnerOf returns the owner of a flow dumped from the bridge, by its cookie. Flows of another
// round than the current one have no owner: their object ids are not this store's.
func (s *Store) OwnerOf(cookie uint64) (Owner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	round, category, id := ParseCookie(cookie)
	owner, ok := s.byID[id]
	if !ok || round != s.round || owner.Category != category {
		return Owner{}, false
	}
	return owner, true
}

// FlowCount returns the number of desired flows of all owners.
func (s *Store) FlowCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.flowOwner)
}

// Round returns the cookie round of the flows on the bridge; 0 before the first Reconcile.
func (s *Store) Round() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.round
}

func (s *Store) sortedOwners() []Owner {
	owners := make([]Owner, 0, len(s.owners))
	for o := range s.owners {
		owners = append(owners, o)
	}
	sort.Slice(owners, func(i, j int) bool {
		if owners[i].Category != owners[j].Category {
			return owners[i].Category < owners[j].Category
		}
		return owners[i].Key < owners[j].Key
	})
	return owners
}

// sortedFlows returns the flows ordered by table, priority (highest first) and match.
func sortedFlows(flows map[string]openflow.Flow) []openflow.Flow {
	out := make([]openflow.Flow, 0, len(flows))
	for _, f := range flows {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Match < b.Match
	})
	return out
}

func sortedGroups(groups map[uint32]openflow.Group) []openflow.Group {
	out := make([]openflow.Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
