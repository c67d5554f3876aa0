package policy

import (
	"net/netip"
	"testing"
)

func TestEvaluateExplains(t *testing.T) {
	s := newModel(t)
	for _, p := range []string{
		ingressToXA(`{podSelector: {matchLabels: {pod: b}}}`), // x/allow
		`{metadata: {name: also, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 81}]}, {from: [{podSelector: {}}]}]}}`,
		`{metadata: {name: outside, namespace: "y"}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/16}}]}]}}`,
	} {
		if err := s.UpsertPolicy(mustPolicy(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	ext := netip.MustParseAddr("192.168.1.1")
	for _, tc := range []struct {
		src, dst netip.Addr
		port     uint16
		want     string
	}{
		{podIP("x", "b"), podIP("x", "a"), 80, "allowed (egress: x/b not isolated; ingress: x/a allowed by x/allow ingress rule 0)"},
		{podIP("x", "c"), podIP("x", "a"), 81, "allowed (egress: x/c not isolated; ingress: x/a allowed by x/also ingress rule 0)"},
		{podIP("x", "c"), podIP("x", "a"), 80, "allowed (egress: x/c not isolated; ingress: x/a allowed by x/also ingress rule 1)"},
		{podIP("y", "c"), podIP("x", "a"), 80, "denied (egress: y/c not isolated; ingress: x/a isolated, no rule allows)"},
		{ext, podIP("y", "a"), 80, "allowed (egress: not a pod; ingress: y/a allowed by y/outside ingress rule 0)"},
		{podIP("y", "b"), podIP("y", "a"), 80, "denied (egress: y/b not isolated; ingress: y/a isolated, no rule allows)"},
		{podIP("y", "a"), ext, 80, "allowed (egress: y/a not isolated; ingress: not a pod)"},
	} {
		if got := s.Evaluate(tc.src, tc.dst, TCP, tc.port).String(); got != tc.want {
			t.Errorf("%s -> %s:%d:\n got  %s\n want %s", tc.src, tc.dst, tc.port, got, tc.want)
		}
	}
}

func TestPolicyTypesDefaulting(t *testing.T) {
	for _, tc := range []struct {
		spec             string
		ingress, egress  bool
		wantIngressRules int
		wantEgressRules  int
	}{
		{`{podSelector: {}}`, true, false, 0, 0},
		{`{podSelector: {}, ingress: [{}]}`, true, false, 1, 0},
		{`{podSelector: {}, egress: [{}]}`, true, true, 0, 1},
		{`{podSelector: {}, policyTypes: [Egress], ingress: [{}]}`, false, true, 0, 0}, // ingress rules without the type are inert
		{`{podSelector: {}, policyTypes: [Ingress, Egress]}`, true, true, 0, 0},
	} {
		s := newModel(t)
		if err := s.UpsertPolicy(mustPolicy(t, `{metadata: {name: p, namespace: x}, spec: `+tc.spec+`}`)); err != nil {
			t.Fatal(err)
		}
		xa := podIP("x", "a")
		if s.Isolated(xa, Ingress) != tc.ingress || s.Isolated(xa, Egress) != tc.egress {
			t.Errorf("%s: isolated ingress %t egress %t, want %t %t", tc.spec, s.Isolated(xa, Ingress), s.Isolated(xa, Egress), tc.ingress, tc.egress)
		}
		var in, out int
		for _, r := range s.Rules("x", "p") {
			if r.Direction == Ingress {
				in++
			} else {
				out++
			}
		}
		if in != tc.wantIngressRules || out != tc.wantEgressRules {
			t.Errorf("%s: %d ingress and %d egress rules, want %d and %d", tc.spec, in, out, tc.wantIngressRules, tc.wantEgressRules)
		}
	}
}
