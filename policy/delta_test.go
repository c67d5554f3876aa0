package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mirror is what a flows layer would hold, rebuilt only from deltas.
type mirror struct {
	groups map[GroupID]map[Member]bool
	rules  map[RuleID]Rule
	iso    map[IsolationChange]bool // keys have Isolated true
}

func newMirror() *mirror {
	return &mirror{groups: map[GroupID]map[Member]bool{}, rules: map[RuleID]Rule{}, iso: map[IsolationChange]bool{}}
}

// apply applies d, failing on anything a flows layer could not apply (unknown group, double add, ...).
func (m *mirror) apply(d Delta) error {
	for _, g := range d.Groups {
		set := m.groups[g.ID]
		if g.Created == (set != nil) {
			return fmt.Errorf("group %d: created=%t but known=%t", g.ID, g.Created, set != nil)
		}
		if set == nil {
			set = map[Member]bool{}
			m.groups[g.ID] = set
		}
		for _, x := range g.Added {
			if set[x] {
				return fmt.Errorf("group %d: %s added twice", g.ID, x)
			}
			set[x] = true
		}
		for _, x := range g.Removed {
			if !set[x] {
				return fmt.Errorf("group %d: %s removed but absent", g.ID, x)
			}
			delete(set, x)
		}
		if g.Deleted {
			if len(set) != 0 {
				return fmt.Errorf("group %d deleted with members %v left", g.ID, set)
			}
			delete(m.groups, g.ID)
		}
	}
	for _, r := range d.RulesAdded {
		if _, dup := m.rules[r.ID]; dup {
			return fmt.Errorf("rule %d added twice", r.ID)
		}
		for _, id := range slices.Concat([]GroupID{r.AppliedTo}, r.Peers, r.NamedPorts) {
			if m.groups[id] == nil {
				return fmt.Errorf("rule %d uses group %d the deltas never created", r.ID, id)
			}
		}
		m.rules[r.ID] = r
	}
	for _, id := range d.RulesRemoved {
		if _, ok := m.rules[id]; !ok {
			return fmt.Errorf("rule %d removed but unknown", id)
		}
		delete(m.rules, id)
	}
	for _, c := range d.Isolation {
		k := IsolationChange{IP: c.IP, Direction: c.Direction, Isolated: true}
		if m.iso[k] == c.Isolated {
			return fmt.Errorf("isolation of %s %s set to %t twice", c.IP, c.Direction, c.Isolated)
		}
		if c.Isolated {
			m.iso[k] = true
		} else {
			delete(m.iso, k)
		}
	}
	return nil
}

// equalTo compares the mirror with the store's full state.
func (m *mirror) equalTo(full Delta) error {
	other := newMirror()
	if err := other.apply(full); err != nil {
		return err
	}
	if !maps.EqualFunc(m.groups, other.groups, maps.Equal) {
		return fmt.Errorf("groups differ:\n deltas %v\n store  %v", m.groups, other.groups)
	}
	if !maps.EqualFunc(m.rules, other.rules, func(a, b Rule) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		return fmt.Errorf("rules differ:\n deltas %v\n store  %v", m.rules, other.rules)
	}
	if !maps.Equal(m.iso, other.iso) {
		return fmt.Errorf("isolation differs:\n deltas %v\n store  %v", m.iso, other.iso)
	}
	return nil
}

func TestDeltaIsMinimalPerEvent(t *testing.T) {
	s := newModel(t)
	const fromBlue80 = `{metadata: {name: p1, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}], ports: [{port: 80}]}]}}`
	const fromBlue81 = `{metadata: {name: p2, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}], ports: [{port: 81}]}]}}`
	for _, p := range []string{fromBlue80, fromBlue81} {
		if err := s.UpsertPolicy(mustPolicy(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	m := newMirror()
	full := s.TakeDelta()
	if len(full.Groups) != 2 || len(full.RulesAdded) != 2 || len(full.Isolation) != 1 {
		t.Fatalf("initial delta: want 2 shared groups, 2 rules, x/a isolated; got %+v", full)
	}
	blue, appliedTo := full.RulesAdded[0].Peers[0], full.RulesAdded[0].AppliedTo
	xa, xb, yd := podIP("x", "a"), podIP("x", "b"), netip.MustParseAddr("10.0.2.4")
	host := func(ip netip.Addr) Member { return Member{Prefix: hostPrefix(ip)} }
	podD := modelPod(mpod{"y", "d", yd}, nil)
	steps := []struct {
		name  string
		event func()
		want  string
	}{
		{"namespace label", func() { s.UpsertNamespace(modelNamespace("y", map[string]string{"team": "blue"})) },
			fmt.Sprintf("groups [g%d +[10.0.2.1/32 10.0.2.2/32 10.0.2.3/32] -[]] rules +[] -[] iso []", blue)},
		{"unrelated namespace label", func() { s.UpsertNamespace(modelNamespace("z", map[string]string{"team": "red"})) },
			"groups [] rules +[] -[] iso []"},
		{"pod add", func() { s.UpsertPod(podD) }, fmt.Sprintf("groups [g%d +[%s] -[]] rules +[] -[] iso []", blue, host(yd))},
		{"pod label joins applied-to", func() { s.UpsertPod(modelPod(mpod{"x", "b", xb}, map[string]string{"pod": "a"})) },
			fmt.Sprintf("groups [g%d +[%s] -[]] rules +[] -[] iso [%s ingress true]", appliedTo, host(xb), xb)},
		{"pod delete", func() { s.DeletePod("y", "d") }, fmt.Sprintf("groups [g%d +[] -[%s]] rules +[] -[] iso []", blue, host(yd))},
		{"add then delete in one window", func() { s.UpsertPod(podD); s.DeletePod("y", "d") }, "groups [] rules +[] -[] iso []"},
		{"policy port change", func() {
			s.UpsertPolicy(mustPolicy(t, `{metadata: {name: p1, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
				ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}], ports: [{port: 8080}]}]}}`))
		}, "groups [] rules +[3] -[1] iso []"},
		{"delete a policy sharing its groups", func() { s.DeletePolicy("x", "p2") }, "groups [] rules +[] -[2] iso []"},
		{"delete the last policy", func() { s.DeletePolicy("x", "p1") },
			fmt.Sprintf("groups [g%d deleted +[] -[%s %s] g%d deleted +[] -[10.0.2.1/32 10.0.2.2/32 10.0.2.3/32]] rules +[] -[3] iso [%s ingress false %s ingress false]",
				appliedTo, host(xa), host(xb), blue, xa, xb)},
	}
	if err := m.apply(full); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		st.event()
		d := s.TakeDelta()
		if got := describe(d); got != st.want {
			t.Errorf("%s:\n got  %s\n want %s", st.name, got, st.want)
		}
		if err := m.apply(d); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if err := m.equalTo(s.Resync()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
}

// describe prints a delta compactly: group changes, rule ids added and removed, isolation changes.
func describe(d Delta) string {
	var gs []string
	for _, g := range d.Groups {
		flag := ""
		if g.Created {
			flag = " created"
		} else if g.Deleted {
			flag = " deleted"
		}
		gs = append(gs, fmt.Sprintf("g%d%s +%v -%v", g.ID, flag, g.Added, g.Removed))
	}
	var added []RuleID
	for _, r := range d.RulesAdded {
		added = append(added, r.ID)
	}
	var iso []string
	for _, c := range d.Isolation {
		iso = append(iso, fmt.Sprintf("%s %s %t", c.IP, c.Direction, c.Isolated))
	}
	return fmt.Sprintf("groups %v rules +%v -%v iso %v", gs, added, d.RulesRemoved, iso)
}

func TestNamedPortsResolvePerPod(t *testing.T) {
	s := NewStore()
	web := func(name, ip string, port int32) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{"app": "web"}},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}}},
			Status: corev1.PodStatus{PodIP: ip}}
	}
	s.UpsertPod(web("w1", "10.1.0.1", 8080))
	s.UpsertPod(web("w2", "10.1.0.2", 9090))
	client := web("client", "10.1.0.9", 1)
	client.Labels = map[string]string{"app": "client"}
	client.Spec.Containers = nil
	s.UpsertPod(client)
	for _, p := range []string{
		`{metadata: {name: in, namespace: shop}, spec: {podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: http}]}]}}`,
		`{metadata: {name: out, namespace: shop}, spec: {podSelector: {matchLabels: {app: client}}, policyTypes: [Egress],
			egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: http}, {port: 5000, endPort: 5010, protocol: UDP}]}]}}`,
	} {
		if err := s.UpsertPolicy(mustPolicy(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	ip := netip.MustParseAddr
	for _, c := range []struct {
		dst   string
		proto Protocol
		port  uint16
		want  bool
	}{
		{"10.1.0.1", TCP, 8080, true}, {"10.1.0.1", TCP, 9090, false}, {"10.1.0.2", TCP, 9090, true},
		{"10.1.0.2", TCP, 8080, false}, {"10.1.0.2", UDP, 9090, false},
		{"10.9.9.9", TCP, 8080, false}, // in the ipBlock but not a pod: a named port matches pods only
		{"10.9.9.9", UDP, 5000, true}, {"10.9.9.9", UDP, 5010, true}, {"10.9.9.9", UDP, 5011, false},
		{"192.168.0.1", UDP, 5005, false},
	} {
		if v := s.Evaluate(ip("10.1.0.9"), ip(c.dst), c.proto, c.port); v.Allowed != c.want {
			t.Errorf("client -> %s %s/%d: got %s, want allowed=%t", c.dst, c.proto, c.port, v, c.want)
		}
	}
	st, _ := s.Status("shop", "in")
	if len(st.Errors)+len(st.Warnings) != 0 {
		t.Errorf("status of a resolving named port: %+v", st)
	}
	s.DeletePod("shop", "w1")
	s.DeletePod("shop", "w2")
	if st, _ := s.Status("shop", "in"); len(st.Warnings) != 1 {
		t.Errorf("named port resolving to nothing: want one warning, got %+v", st)
	}
}
