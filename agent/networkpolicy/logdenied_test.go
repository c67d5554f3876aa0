package networkpolicy

import (
	"context"
	"net/netip"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/policy"
)

// dropActions returns the actions of the default-drop flows of a pod owner, by table.
func dropActions(t *testing.T, store *flows.Store, podKey string) map[uint8]string {
	t.Helper()
	out := map[uint8]string{}
	for _, o := range store.Owners() {
		if o.Owner != podOwner(podKey) {
			continue
		}
		for _, f := range o.Flows {
			if f.Priority == flows.PolicyDropPriority {
				out[f.Table] = f.Actions
			}
		}
	}
	return out
}

// A pod's default-drop flows are logged when a policy isolating it in that direction carries the annotation (or
// the node logs every denial), and turn back to plain drops when the annotation goes; DeniedAt names the pod,
// direction and isolating policies of a logged flow's cookie.
func TestLoggedDropsFollowTheAnnotation(t *testing.T) {
	store := flows.NewStore(&nullSwitch{})
	if err := store.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{model: policy.NewStore(), comp: newCompiler(), store: store}
	c := &Controller{cfg: Config{DeniedLogging: true}, model: h.model, comp: h.comp, logged: map[policy.PolicyKey]bool{}}
	h.comp.logDenied = c.logDenied
	sync := func() {
		c.takeRelog()
		h.sync(t)
	}
	h.model.UpsertNamespace(namespace("x", nil))
	_ = h.model.UpsertPod(pod("x", "a", "n1", "10.244.1.2", map[string]string{"pod": "a"}))
	_ = h.model.UpsertPod(pod("x", "b", "n1", "10.244.1.3", map[string]string{"pod": "b"}))
	h.comp.setLocalPod("x/a", addr("10.244.1.2"), 10)
	h.comp.setLocalPod("x/b", addr("10.244.1.3"), 11)

	plain := flows.PolicyDropPod(flows.PolicyIngress, 10).Actions
	logged := flows.PolicyDropPodLogged(flows.PolicyIngress, 10).Actions
	ing := flows.IngressRule.ID

	quiet := ingressPolicy("x", "quiet", map[string]string{"pod": "a"}, nil, intstr.FromInt32(80))
	loud := ingressPolicy("x", "loud", map[string]string{"pod": "a"}, nil, intstr.FromInt32(81))
	loud.Annotations = map[string]string{LogDeniedAnnotation: "true"}
	for _, np := range []*networkingv1.NetworkPolicy{quiet} {
		if err := h.model.UpsertPolicy(np); err != nil {
			t.Fatal(err)
		}
		c.noteLogging(np, false)
	}
	sync()
	if got := dropActions(t, store, "x/a"); got[ing] != plain {
		t.Fatalf("isolated by an unannotated policy: drop actions %q, want %q", got[ing], plain)
	}

	// A second, annotated policy isolating the same pod (its isolation does not change) logs its denials.
	if err := h.model.UpsertPolicy(loud); err != nil {
		t.Fatal(err)
	}
	c.noteLogging(loud, false)
	sync()
	if got := dropActions(t, store, "x/a"); got[ing] != logged {
		t.Fatalf("isolated by an annotated policy: drop actions %q, want %q", got[ing], logged)
	}
	if got := dropActions(t, store, "x/b"); len(got) != 0 {
		t.Errorf("x/b is not isolated but has drop flows %v", got)
	}

	cookie := uint64(0)
	for _, o := range store.Owners() {
		if o.Owner == podOwner("x/a") {
			cookie = o.Flows[0].Cookie
		}
	}
	podKey, dir, isolators, ok := c.deniedAt(ing, cookie, store.OwnerOf, func(string) (netip.Addr, bool) { return addr("10.244.1.2"), true })
	if !ok || podKey != "x/a" || dir != policy.Ingress || len(isolators) != 2 ||
		isolators[0].String() != "x/loud" || isolators[1].String() != "x/quiet" {
		t.Errorf("DeniedAt: %q %v %v %v", podKey, dir, isolators, ok)
	}
	if _, _, _, ok := c.deniedAt(flows.L3Forwarding.ID, cookie, store.OwnerOf, nil); ok {
		t.Error("DeniedAt accepted a packet-in from another table")
	}

	// The annotation goes (false is not true): plain drops again.
	loud = loud.DeepCopy()
	loud.Annotations[LogDeniedAnnotation] = "false"
	c.noteLogging(loud, false)
	sync()
	if got := dropActions(t, store, "x/a"); got[ing] != plain {
		t.Fatalf("annotation set to false: drop actions %q, want %q", got[ing], plain)
	}

	// logDeniedConnections logs every isolated pod's denials; without the meter nothing is logged.
	c.cfg.LogDenied = true
	h.comp.markAll()
	h.sync(t)
	if got := dropActions(t, store, "x/a"); got[ing] != logged {
		t.Fatalf("logDeniedConnections: drop actions %q, want %q", got[ing], logged)
	}
	c.cfg.DeniedLogging = false
	h.comp.markAll()
	h.sync(t)
	if got := dropActions(t, store, "x/a"); got[ing] != plain {
		t.Fatalf("no meter: drop actions %q, want %q", got[ing], plain)
	}
}
