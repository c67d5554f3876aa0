package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The upstream netpol model: namespaces x, y, z with pods a, b, c, each serving ports 80 and 81 on TCP, UDP and
// SCTP with container ports named serve-<port>-<proto>.

var (
	modelNamespaces = []string{"x", "y", "z"}
	modelPodNames   = []string{"a", "b", "c"}
	modelPorts      = []uint16{80, 81}
	modelProtocols  = []Protocol{TCP, UDP, SCTP}
)

// mpod is one pod of the model.
type mpod struct {
	ns, name string
	ip       netip.Addr
}

func (p mpod) String() string { return p.ns + "/" + p.name }

func modelPods() []mpod {
	var out []mpod
	for i, ns := range modelNamespaces {
		for j, name := range modelPodNames {
			out = append(out, mpod{ns, name, netip.AddrFrom4([4]byte{10, 0, byte(i + 1), byte(j + 1)})})
		}
	}
	return out
}

func podIP(ns, name string) netip.Addr {
	for _, p := range modelPods() {
		if p.ns == ns && p.name == name {
			return p.ip
		}
	}
	panic("no model pod " + ns + "/" + name)
}

// modelPod builds the Pod object of a model pod with extra labels.
func modelPod(p mpod, extra map[string]string) *corev1.Pod {
	l := map[string]string{"pod": p.name}
	maps.Copy(l, extra)
	var ports []corev1.ContainerPort
	for _, port := range modelPorts {
		for _, proto := range modelProtocols {
			ports = append(ports, corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(proto.String())),
				ContainerPort: int32(port), Protocol: corev1.Protocol(proto.String())})
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name, Labels: l},
		Spec:       corev1.PodSpec{NodeName: "node-" + p.name, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: p.ip.String()},
	}
}

func modelNamespace(name string, extra map[string]string) *corev1.Namespace {
	l := map[string]string{"ns": name, nameLabel: name}
	maps.Copy(l, extra)
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

// newModel returns a store holding the model's namespaces and pods.
func newModel(t testing.TB) *Store {
	s := NewStore()
	for _, ns := range modelNamespaces {
		s.UpsertNamespace(modelNamespace(ns, nil))
	}
	for _, p := range modelPods() {
		if err := s.UpsertPod(modelPod(p, nil)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// mustPolicy decodes a NetworkPolicy written in YAML.
func mustPolicy(t testing.TB, text string) *networkingv1.NetworkPolicy {
	t.Helper()
	var np networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(text), &np); err != nil {
		t.Fatalf("bad test policy: %v\n%s", err, text)
	}
	return &np
}

// expectFunc is a case's truth: may client reach server on port/proto?
type expectFunc func(client, server mpod, port uint16, proto Protocol) bool

// checkMatrix compares Evaluate over every (client, server, port, protocol) with want; loopback is not judged.
func checkMatrix(t *testing.T, s *Store, want expectFunc) {
	t.Helper()
	pods := modelPods()
	bad := 0
	for _, proto := range modelProtocols {
		for _, port := range modelPorts {
			var table strings.Builder
			wrong := false
			for _, c := range pods {
				fmt.Fprintf(&table, "\n  %s  ", c)
				for _, srv := range pods {
					if c == srv {
						table.WriteString(" .")
						continue
					}
					v := s.Evaluate(c.ip, srv.ip, proto, port)
					mark := map[bool]string{true: " ✓", false: " ✗"}[v.Allowed]
					if w := want(c, srv, port, proto); w != v.Allowed {
						mark, wrong = " X", true
						if bad++; bad <= 3 {
							t.Errorf("%s -> %s %s/%d: got %s, want allowed=%t", c, srv, proto, port, v, w)
						}
					}
					table.WriteString(mark)
				}
			}
			if wrong {
				t.Errorf("%s/%d matrix (rows clients, columns x/a..z/c; X = wrong):%s", proto, port, table.String())
			}
		}
	}
}

// step is one stage of a case: changes, then the expected matrix.
type step struct {
	apply     []string                     // policies in YAML, created or updated
	delete    []string                     // policies as namespace/name
	nsLabels  map[string]map[string]string // namespace -> extra labels (replacing earlier extras)
	podLabels map[string]map[string]string // ns/pod -> extra labels
	want      expectFunc
}

type netpolCase struct {
	name  string
	steps []step
}

func runCases(t *testing.T, cases []netpolCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newModel(t)
			for i, st := range tc.steps {
				for _, text := range st.apply {
					if err := s.UpsertPolicy(mustPolicy(t, text)); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
				for _, key := range st.delete {
					ns, name, _ := strings.Cut(key, "/")
					s.DeletePolicy(ns, name)
				}
				for ns, l := range st.nsLabels {
					s.UpsertNamespace(modelNamespace(ns, l))
				}
				for key, l := range st.podLabels {
					ns, name, _ := strings.Cut(key, "/")
					if err := s.UpsertPod(modelPod(mpod{ns, name, podIP(ns, name)}, l)); err != nil {
						t.Fatal(err)
					}
				}
				t.Run(fmt.Sprintf("step%d", i), func(t *testing.T) { checkMatrix(t, s, st.want) })
			}
		})
	}
}

// Small vocabulary for expectations.
func allowAll(mpod, mpod, uint16, Protocol) bool { return true }

func is(p mpod, key string) bool { return p.String() == key }

func netpolPeer(pods, namespaces *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: pods, NamespaceSelector: namespaces}
}
