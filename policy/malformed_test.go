package policy

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A malformed rule is reported, ignored (failing closed: the policy still isolates), and never disturbs the valid
// rule next to it or other policies.
func TestMalformedRulesFailClosed(t *testing.T) {
	const fromZ = `{namespaceSelector: {matchLabels: {ns: z}}}`
	for _, tc := range []struct{ name, rule, wantErr string }{
		{"invalid cidr", `{from: [{ipBlock: {cidr: 10.0.0.300/8}}]}`, `spec.ingress[0].from[0]: ipBlock.cidr: "10.0.0.300/8" is not a CIDR`},
		{"invalid except", `{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [banana]}}]}`, `ipBlock.except[0]: "banana" is not a CIDR`},
		{"unknown protocol", `{from: [` + fromZ + `], ports: [{protocol: ICMP, port: 80}]}`, `spec.ingress[0].ports[0]: unknown protocol "ICMP"`},
		{"port out of range", `{from: [` + fromZ + `], ports: [{port: 70000}]}`, "port 70000 is out of range"},
		{"endPort below port", `{from: [` + fromZ + `], ports: [{port: 80, endPort: 79}]}`, "endPort 79 must be between port 80 and 65535"},
		{"endPort on named port", `{from: [` + fromZ + `], ports: [{port: serve-80-tcp, endPort: 90}]}`, `endPort 90 cannot follow the named port "serve-80-tcp"`},
		{"endPort without port", `{from: [` + fromZ + `], ports: [{endPort: 90}]}`, "endPort 90 needs a numeric port"},
		{"unknown operator", `{from: [{podSelector: {matchExpressions: [{key: pod, operator: Equals, values: [b]}]}}]}`, `"Equals" is not a valid label selector operator`},
		{"In without values", `{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In}]}}]}`, "namespaceSelector: values: Invalid value"},
		{"invalid label key", `{from: [{podSelector: {matchLabels: {"bad key!": v}}}]}`, "podSelector: key: Invalid value"},
		{"ipBlock with selector", `{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}`, "ipBlock cannot be combined"},
		{"empty peer", `{from: [{}]}`, "a peer needs a podSelector, a namespaceSelector or an ipBlock"},
		{"one bad port among good ones", `{from: [` + fromZ + `], ports: [{port: 80}, {protocol: GRE}]}`, `ports[1]: unknown protocol "GRE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newModel(t)
			other := `{metadata: {name: same-ns, namespace: "y"}, spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}}`
			if err := s.UpsertPolicy(mustPolicy(t, other)); err != nil {
				t.Fatal(err)
			}
			broken := `{metadata: {name: broken, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [` +
				tc.rule + `, {from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]}}`
			err := s.UpsertPolicy(mustPolicy(t, broken))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "networkpolicy x/broken: ") {
				t.Fatalf("error %v, want one naming x/broken and containing %q", err, tc.wantErr)
			}
			if st, _ := s.Status("x", "broken"); len(st.Errors) != 1 {
				t.Errorf("status: want the error, got %+v", st)
			}
			checkMatrix(t, s, func(c, srv mpod, _ uint16, _ Protocol) bool {
				return (!is(srv, "x/a") || c.ns == "y") && (srv.ns != "y" || c.ns == "y")
			})
		})
	}
}

func TestMalformedPolicyLevel(t *testing.T) {
	s := newModel(t)
	err := s.UpsertPolicy(mustPolicy(t, `{metadata: {name: bad-selector, namespace: x},
		spec: {podSelector: {matchExpressions: [{key: pod, operator: Exists, values: [a]}]}, policyTypes: [Ingress, Sideways]}}`))
	for _, want := range []string{"spec.podSelector: values: Invalid value", "the policy applies to no pod",
		`spec.policyTypes[1]: "Sideways" is neither Ingress nor Egress`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	checkMatrix(t, s, allowAll) // it applies to no pod
	s.DeletePolicy("x", "bad-selector")
	if len(s.PolicyKeys()) != 0 || s.Stats().Groups != 0 {
		t.Errorf("after delete: %+v", s.Stats())
	}
}

func TestHugeLabelSets(t *testing.T) {
	s := newModel(t)
	big := map[string]string{}
	for i := range 5000 {
		big[fmt.Sprintf("k%d", i)] = "v"
	}
	pod := modelPod(mpod{"y", "a", podIP("y", "a")}, big)
	if err := s.UpsertPod(pod); err != nil {
		t.Fatal(err)
	}
	s.UpsertNamespace(modelNamespace("z", big))
	sel := &metav1.LabelSelector{MatchLabels: big}
	np := mustPolicy(t, ingressToXA(`{podSelector: {}}`))
	np.Spec.Ingress[0].From = append(np.Spec.Ingress[0].From, netpolPeer(nil, sel), netpolPeer(sel, &metav1.LabelSelector{}))
	if err := s.UpsertPolicy(np); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns != "y" || c.name == "a" }))
}

func TestMalformedPods(t *testing.T) {
	s := newModel(t)
	pod := modelPod(mpod{"y", "a", podIP("y", "a")}, nil)
	pod.Status.PodIPs = []corev1.PodIP{{IP: "not-an-ip"}}
	pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports,
		corev1.ContainerPort{Name: "weird", ContainerPort: 99999}, corev1.ContainerPort{Name: "icmp", ContainerPort: 1, Protocol: "ICMP"})
	err := s.UpsertPod(pod)
	for _, want := range []string{`pod y/a: status IP "not-an-ip" is not an IP address`, `port "weird": containerPort 99999 is out of range`,
		`port "icmp": unknown protocol "ICMP"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if err := s.UpsertPolicy(mustPolicy(t, denyIngressX)); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, s, func(_, srv mpod, _ uint16, _ Protocol) bool { return srv.ns != "x" }) // the valid IP still works
}
