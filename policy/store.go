package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Store is the in-memory NetworkPolicy model: it is fed Pods, Namespaces and NetworkPolicies, keeps every
// policy's normalized rules over shared, reference-counted groups, tracks isolation per pod address and
// direction, and accumulates the changes for TakeDelta. It is safe for concurrent use.
type Store struct {
	mu         sync.RWMutex
	pods       map[string]*podRec            // by namespace/name
	podsByNs   map[string]map[string]*podRec // namespace -> key -> pod
	byIP       map[netip.Addr]*podRec
	namespaces map[string]labels.Set
	policies   map[PolicyKey]*policyRec

	groups     map[string]*group // by definition key
	groupsByID map[GroupID]*group
	nsGroups   map[string]map[*group]struct{} // groups whose pods all live in one namespace
	selGroups  map[*group]struct{}            // groups with a namespace selector
	cidrGroups map[*group]struct{}            // named-port groups over an ipBlock
	rules      map[RuleID]*Rule
	iso        map[netip.Addr]*[2]int // address -> number of (policy, direction) isolating it

	nextGroup GroupID
	nextRule  RuleID
	delta     pendingDelta
	scratch   []Member
}

// policyRec is a policy as installed: its groups (one reference each) and rules.
type policyRec struct {
	plan      *policyPlan
	appliedTo *group // nil when the podSelector is invalid
	rules     []*Rule
	held      []*group
	ruleKeys  []string
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		pods: map[string]*podRec{}, podsByNs: map[string]map[string]*podRec{}, byIP: map[netip.Addr]*podRec{},
		namespaces: map[string]labels.Set{}, policies: map[PolicyKey]*policyRec{},
		groups: map[string]*group{}, groupsByID: map[GroupID]*group{}, nsGroups: map[string]map[*group]struct{}{},
		selGroups: map[*group]struct{}{}, cidrGroups: map[*group]struct{}{}, rules: map[RuleID]*Rule{},
		iso: map[netip.Addr]*[2]int{}, delta: newPendingDelta(),
	}
}

// UpsertPolicy adds or replaces a NetworkPolicy. The returned error lists what is malformed (each part naming
// the field); malformed rules are ignored, failing closed, and the rest of the policy is installed. Rules whose
// normalized content did not change keep their RuleID, so an update reports only the rules that differ.
func (s *Store) UpsertPolicy(np *networkingv1.NetworkPolicy) error {
	p := plan(np)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.policies[p.key]
	rec := &policyRec{plan: p}
	if p.appliedTo != nil {
		rec.appliedTo = s.hold(rec, groupDef{kind: PodGroup, sel: *p.appliedTo})
	}
	oldIDs := map[string]RuleID{}
	if old != nil {
		for i, r := range old.rules {
			oldIDs[old.ruleKeys[i]] = r.ID
		}
	}
	for _, rp := range p.rules {
		r := &Rule{Policy: p.key, Direction: rp.dir, Index: rp.index, AppliedTo: rec.appliedTo.id,
			AnyPeer: rp.anyPeer, AnyPort: rp.anyPort, Ports: rp.ports}
		for _, d := range rp.peers {
			r.Peers = append(r.Peers, s.hold(rec, d).id)
		}
		for _, d := range rp.named {
			r.NamedPorts = append(r.NamedPorts, s.hold(rec, d).id)
		}
		key := fmt.Sprintf("%d/%d %d %t%v %t%v%v", r.Direction, r.Index, r.AppliedTo, r.AnyPeer, r.Peers,
			r.AnyPort, r.Ports, r.NamedPorts)
		if id, ok := oldIDs[key]; ok {
			r.ID = id
			delete(oldIDs, key)
		} else {
			s.nextRule++
			r.ID = s.nextRule
			s.delta.rule(r.ID, +1)
		}
		s.rules[r.ID] = r
		rec.rules = append(rec.rules, r)
		rec.ruleKeys = append(rec.ruleKeys, key)
	}
	s.setIsolation(rec, +1)
	if old != nil {
		s.uninstall(old, oldIDs)
	}
	s.policies[p.key] = rec
	return policyError(p)
}

// DeletePolicy removes a NetworkPolicy; deleting an unknown one does nothing.
func (s *Store) DeletePolicy(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := PolicyKey{namespace, name}
	if old := s.policies[key]; old != nil {
		ids := map[string]RuleID{}
		for i, r := range old.rules {
			ids[old.ruleKeys[i]] = r.ID
		}
		s.uninstall(old, ids)
		delete(s.policies, key)
	}
}

// uninstall withdraws old's isolation, removes its rules listed in gone, and releases its groups.
func (s *Store) uninstall(old *policyRec, gone map[string]RuleID) {
	s.setIsolation(old, -1)
	for _, id := range gone {
		delete(s.rules, id)
		s.delta.rule(id, -1)
	}
	for _, g := range old.held {
		s.release(g)
	}
}

func (s *Store) hold(rec *policyRec, def groupDef) *group {
	g := s.acquire(def)
	rec.held = append(rec.held, g)
	return g
}

// setIsolation adds (sign +1) or withdraws (-1) the isolation rec's policy types put on its applied-to pods.
func (s *Store) setIsolation(rec *policyRec, sign int) {
	if rec.appliedTo == nil {
		return
	}
	for d, on := range rec.plan.types {
		if !on {
			continue
		}
		rec.appliedTo.isoRefs[d] += sign
		for m := range rec.appliedTo.members {
			s.bumpIsolation(m.Prefix.Addr(), Direction(d), sign)
		}
	}
}

// isolate applies a membership change of g (sign +1 joined, -1 left) to the isolation of ip.
func (s *Store) isolate(g *group, ip netip.Addr, sign int) {
	for d, n := range g.isoRefs {
		if n > 0 {
			s.bumpIsolation(ip, Direction(d), sign*n)
		}
	}
}

func (s *Store) bumpIsolation(ip netip.Addr, d Direction, by int) {
	c := s.iso[ip]
	if c == nil {
		c = &[2]int{}
		s.iso[ip] = c
	}
	s.delta.isolation(ip, d, c[d] > 0)
	if c[d] += by; c[0] == 0 && c[1] == 0 {
		delete(s.iso, ip)
	}
}

// Isolated reports whether policies isolate the pod address ip in direction d.
func (s *Store) Isolated(ip netip.Addr, d Direction) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isolated(ip, d)
}

func (s *Store) isolated(ip netip.Addr, d Direction) bool {
	c := s.iso[ip]
	return c != nil && c[d] > 0
}

// PolicyStatus is what is wrong with an installed policy: Errors from its spec (those rules are ignored) and
// Warnings about its current effect, such as a named port no selected pod declares.
type PolicyStatus struct {
	Errors   []error
	Warnings []string
}

// Status returns the status of an installed policy, and false if the store does not have it.
func (s *Store) Status(namespace, name string) (PolicyStatus, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.policies[PolicyKey{namespace, name}]
	if rec == nil {
		return PolicyStatus{}, false
	}
	st := PolicyStatus{Errors: slices.Clone(rec.plan.errs)}
	for _, r := range rec.rules {
		for _, id := range r.NamedPorts {
			if g := s.groupsByID[id]; len(g.members) == 0 {
				st.Warnings = append(st.Warnings, fmt.Sprintf("%s[%d]: named port %s/%s resolves to no pod (%s)",
					r.Direction, r.Index, g.def.proto, g.def.portName, g.key))
			}
		}
	}
	return st, true
}

func policyError(p *policyPlan) error {
	if len(p.errs) == 0 {
		return nil
	}
	return fmt.Errorf("networkpolicy %s: %w", p.key, errors.Join(p.errs...))
}
