package policy

import (
	"net/netip"
	"slices"
	"strings"
)

// Group returns a group with its current members, and false if no group has that ID (any more).
func (s *Store) Group(id GroupID) (Group, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.groupsByID[id]
	if g == nil {
		return Group{}, false
	}
	return g.public(), true
}

// Rule returns an installed rule, and false if no rule has that ID (any more).
func (s *Store) Rule(id RuleID) (Rule, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rules[id]
	if r == nil {
		return Rule{}, false
	}
	return *r, true
}

// Rules returns the normalized rules of one policy, ingress first, in spec order; nil if it is not installed.
func (s *Store) Rules(namespace, name string) []Rule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.policies[PolicyKey{namespace, name}]
	if rec == nil {
		return nil
	}
	out := make([]Rule, len(rec.rules))
	for i, r := range rec.rules {
		out[i] = *r
	}
	return out
}

// PodAt returns the namespace/name and node of the pod that has address ip.
func (s *Store) PodAt(ip netip.Addr) (pod, node string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.byIP[ip.Unmap()]
	if p == nil {
		return "", "", false
	}
	return p.key, p.node, true
}

// Stats counts what the store holds; Members sums the members of all groups (the address flows a flows layer
// needs, before merging addresses shared by groups).
type Stats struct {
	Pods, Namespaces, Policies, Groups, Rules, Members, IsolatedAddresses int
}

// Stats returns the store's current size.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Pods: len(s.pods), Namespaces: len(s.namespaces), Policies: len(s.policies),
		Groups: len(s.groupsByID), Rules: len(s.rules), IsolatedAddresses: len(s.iso)}
	for _, g := range s.groupsByID {
		st.Members += len(g.members)
	}
	return st
}

// PolicyKeys lists the installed policies, sorted.
func (s *Store) PolicyKeys() []PolicyKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]PolicyKey, 0, len(s.policies))
	for k := range s.policies {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b PolicyKey) int {
		if a.Namespace != b.Namespace {
			if a.Namespace < b.Namespace {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return keys
}

// Isolators lists the policies that isolate the pod address ip in direction d (their podSelector selects it and
// their policyTypes include d), sorted: the policies a denied connection of that pod is attributed to.
func (s *Store) Isolators(ip netip.Addr, d Direction) []PolicyKey {
	ip = ip.Unmap()
	s.mu.RLock()
	var keys []PolicyKey
	for k, rec := range s.policies {
		if rec.appliedTo != nil && rec.plan.types[d] && rec.appliedTo.has(ip, 0) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(keys, func(a, b PolicyKey) int { return strings.Compare(a.String(), b.String()) })
	return keys
}
