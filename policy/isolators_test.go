package policy

import (
	"slices"
	"testing"
)

// Isolators names the policies that isolate a pod per direction, sorted, and follows label changes.
func TestIsolators(t *testing.T) {
	s := newModel(t)
	for _, text := range []string{denyIngressX, denyAllX,
		`{metadata: {name: egress-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}}`} {
		if err := s.UpsertPolicy(mustPolicy(t, text)); err != nil {
			t.Fatal(err)
		}
	}
	xa, yb := podIP("x", "a"), podIP("y", "b")
	if got, want := s.Isolators(xa, Ingress), []PolicyKey{{"x", "deny-all"}, {"x", "deny-ingress"}}; !slices.Equal(got, want) {
		t.Errorf("ingress isolators of x/a: %v, want %v", got, want)
	}
	if got, want := s.Isolators(xa, Egress), []PolicyKey{{"x", "deny-all"}, {"x", "egress-a"}}; !slices.Equal(got, want) {
		t.Errorf("egress isolators of x/a: %v, want %v", got, want)
	}
	if got := s.Isolators(yb, Ingress); len(got) != 0 {
		t.Errorf("y/b is isolated by %v", got)
	}
	if err := s.UpsertPod(modelPod(mpod{"x", "a", xa}, map[string]string{"pod": "other"})); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Isolators(xa, Egress), []PolicyKey{{"x", "deny-all"}}; !slices.Equal(got, want) {
		t.Errorf("egress isolators of x/a relabelled: %v, want %v", got, want)
	}
}
