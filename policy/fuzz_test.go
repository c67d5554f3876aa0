package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// gen draws choices from fuzz bytes; past the end every draw is 0, so any input is a valid scenario.
type gen struct {
	data []byte
	i    int
}

func (g *gen) n(k int) int {
	if g.i >= len(g.data) {
		return 0
	}
	g.i++
	return int(g.data[g.i-1]) % k
}

func (g *gen) pick(options ...string) string { return options[g.n(len(options))] }

func (g *gen) labels(keys ...string) map[string]string {
	l := map[string]string{}
	for _, k := range keys {
		if v := g.pick("", "a", "b"); v != "" {
			l[k] = v
		}
	}
	return l
}

func (g *gen) selector(keys ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	for range g.n(2) {
		s.MatchLabels = map[string]string{g.pick(keys...): g.pick("a", "b")}
	}
	for range g.n(3) {
		e := metav1.LabelSelectorRequirement{Key: g.pick(keys...),
			Operator: metav1.LabelSelectorOperator(g.pick("In", "NotIn", "Exists", "DoesNotExist", "In", "NotIn", "Bogus"))}
		if e.Operator == "In" || e.Operator == "NotIn" || g.n(8) == 0 {
			e.Values = [][]string{{"a"}, {"a", "b"}, {"b"}, nil}[g.n(4)]
		}
		s.MatchExpressions = append(s.MatchExpressions, e)
	}
	return s
}

func (g *gen) pod(i int) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: g.pick("n0", "n1", "n2"), Name: fmt.Sprintf("p%d", i),
		Labels: g.labels("app", "tier")},
		Spec:   corev1.PodSpec{HostNetwork: g.n(10) == 0, Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{PodIP: fmt.Sprintf("10.0.0.%d", i+1)}}
	for range g.n(3) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: g.pick("http", "dns", "m"),
			ContainerPort: int32([]int{80, 53, 8080}[g.n(3)]), Protocol: corev1.Protocol(g.pick("", "TCP", "UDP", "SCTP"))})
	}
	return p
}

func (g *gen) policy(name string) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: g.pick("n0", "n1", "n2"), Name: name}}
	np.Spec.PodSelector = *g.selector("app", "tier")
	for _, t := range [][]networkingv1.PolicyType{nil, {"Ingress"}, {"Egress"}, {"Ingress", "Egress"}, {"Sideways"}}[g.n(5)] {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, t)
	}
	for range g.n(3) {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.peers(), Ports: g.ports()})
	}
	for range g.n(3) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.peers(), Ports: g.ports()})
	}
	return np
}

func (g *gen) peers() (out []networkingv1.NetworkPolicyPeer) {
	for range g.n(3) {
		var p networkingv1.NetworkPolicyPeer
		switch g.n(6) {
		case 0:
			p.PodSelector = g.selector("app", "tier")
		case 1:
			p.NamespaceSelector = g.selector("team", "kubernetes.io/metadata.name")
		case 2:
			p.PodSelector, p.NamespaceSelector = g.selector("app", "tier"), g.selector("team")
		case 3, 4:
			p.IPBlock = &networkingv1.IPBlock{CIDR: g.pick("10.0.0.0/24", "10.0.0.0/29", "10.0.0.4/30", "0.0.0.0/0", "10.0.0.3/32", "bogus")}
			for range g.n(3) {
				p.IPBlock.Except = append(p.IPBlock.Except, g.pick("10.0.0.2/31", "10.0.0.5/32", "10.0.0.0/30", "10.0.0.0/8", "fd00::/8", "x"))
			}
		} // case 5: empty peer, invalid
		out = append(out, p)
	}
	return out
}

func (g *gen) ports() (out []networkingv1.NetworkPolicyPort) {
	for range g.n(3) {
		var p networkingv1.NetworkPolicyPort
		if proto := g.pick("", "TCP", "UDP", "SCTP", "ICMP"); proto != "" {
			p.Protocol = (*corev1.Protocol)(&proto)
		}
		switch g.n(4) {
		case 1:
			v := intstr.FromInt32(int32([]int{53, 80, 8080, 0}[g.n(4)]))
			p.Port = &v
		case 2:
			v := intstr.FromString(g.pick("http", "dns", "m", "nope"))
			p.Port = &v
		}
		if g.n(4) == 0 {
			end := int32([]int{81, 8080, 9000, 10}[g.n(4)])
			p.EndPort = &end
		}
		out = append(out, p)
	}
	return out
}

// FuzzPolicyEvaluate builds random pods, namespaces and policies, applies random changes, and checks after each:
// no panic, the deltas replayed from nothing equal the store's full state, and Evaluate agrees with the
// brute-force reference for every pair of addresses, port and protocol.
func FuzzPolicyEvaluate(f *testing.F) {
	for i := range 40 {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		seed := make([]byte, 40+i*8)
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		s, w, m := NewStore(), newWorld(), newMirror()
		check := func(what string) {
			if err := m.apply(s.TakeDelta()); err != nil {
				t.Fatalf("after %s: delta: %v", what, err)
			}
			if err := m.equalTo(s.Resync()); err != nil {
				t.Fatalf("after %s: %v", what, err)
			}
			compareWithReference(t, s, w, what)
		}
		for i := range 3 {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i), Labels: g.labels("team")}}
			ns.Labels["kubernetes.io/metadata.name"] = ns.Name
			s.UpsertNamespace(ns)
			w.Namespaces[ns.Name] = ns.Labels
		}
		for i := range 1 + g.n(7) {
			p := g.pod(i)
			s.UpsertPod(p)
			w.Pods[p.Name] = p
		}
		for i := range 1 + g.n(4) {
			np := g.policy(fmt.Sprintf("np%d", i))
			s.UpsertPolicy(np)
			w.Policies[np.Namespace+"/"+np.Name] = np
		}
		check("setup")
		for step := range g.n(6) {
			switch g.n(4) {
			case 0: // relabel or re-create a pod (in another namespace: delete the old one, as the API would)
				p := g.pod(g.n(8))
				if old := w.Pods[p.Name]; old != nil && old.Namespace != p.Namespace {
					s.DeletePod(old.Namespace, old.Name)
				}
				s.UpsertPod(p)
				w.Pods[p.Name] = p
			case 1:
				if p := w.Pods[fmt.Sprintf("p%d", g.n(8))]; p != nil {
					s.DeletePod(p.Namespace, p.Name)
					delete(w.Pods, p.Name)
				}
			case 2:
				ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: g.pick("n0", "n1", "n2"), Labels: g.labels("team")}}
				ns.Labels["kubernetes.io/metadata.name"] = ns.Name
				s.UpsertNamespace(ns)
				w.Namespaces[ns.Name] = ns.Labels
			case 3:
				np := g.policy(fmt.Sprintf("np%d", g.n(4)))
				for k, old := range w.Policies { // a policy keeps its namespace on update
					if old.Name == np.Name {
						s.DeletePolicy(old.Namespace, old.Name)
						delete(w.Policies, k)
					}
				}
				s.UpsertPolicy(np)
				w.Policies[np.Namespace+"/"+np.Name] = np
			}
			check(fmt.Sprintf("step %d", step))
		}
	})
}

func compareWithReference(t *testing.T, s *Store, w *world, what string) {
	t.Helper()
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("192.168.0.1")}
	for i := range 9 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}))
	}
	for _, src := range addrs {
		for _, dst := range addrs {
			for _, proto := range []Protocol{TCP, UDP, SCTP} {
				for _, port := range []uint16{53, 80, 8080} {
					got := s.Evaluate(src, dst, proto, port)
					if want := w.allowed(src, dst, proto.String(), int32(port)); got.Allowed != want {
						world, _ := json.Marshal(w)
						t.Fatalf("after %s: %s -> %s %s/%d: store says %s, reference says allowed=%t\n%s",
							what, src, dst, proto, port, got, want, world)
					}
				}
			}
		}
	}
}
