package networkpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/policy"
)

// nullHarness is a harness over a reconciled store on a nullSwitch, with namespace x.
func nullHarness(t *testing.T) (*harness, *nullSwitch) {
	t.Helper()
	sw := &nullSwitch{}
	store := flows.NewStore(sw)
	if err := store.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{model: policy.NewStore(), comp: newCompiler(), store: store}
	h.model.UpsertNamespace(namespace("x", nil))
	return h, sw
}

// addClients adds n pods x/<prefix><i> on another node at 10.244.2.(2+i), labelled role=client.
func addClients(h *harness, prefix string, n int) {
	for i := 0; i < n; i++ {
		_ = h.model.UpsertPod(pod("x", fmt.Sprintf("%s%d", prefix, i), "n2", fmt.Sprintf("10.244.2.%d", 2+i), map[string]string{"role": "client"}))
	}
}

// flowCount installs pods pods (a tenth of them local) and policies policies, each applying to a tenth of the
// pods and admitting all of them on one port, and counts the flows.
func flowCount(t *testing.T, pods, policies int) int {
	t.Helper()
	h, _ := nullHarness(t)
	for i := 0; i < pods; i++ {
		node := "n2"
		if i%10 == 0 {
			node = "n1"
			h.comp.setLocalPod(fmt.Sprintf("x/p%d", i), addr(fmt.Sprintf("10.244.%d.%d", i/200, 2+i%200)), uint32(10+i))
		}
		_ = h.model.UpsertPod(pod("x", fmt.Sprintf("p%d", i), node, fmt.Sprintf("10.244.%d.%d", i/200, 2+i%200),
			map[string]string{"group": fmt.Sprint(i % 10)}))
	}
	for i := 0; i < policies; i++ {
		if err := h.model.UpsertPolicy(ingressPolicy("x", fmt.Sprintf("np%d", i), map[string]string{"group": fmt.Sprint(i % 10)},
			[]networkingv1.NetworkPolicyPeer{podPeer(nil)}, intstr.FromInt32(int32(1000+i)))); err != nil {
			t.Fatal(err)
		}
	}
	h.sync(t)
	return h.store.FlowCount()
}

// Flows grow with pods + rules, not pods x rules: every peer address is one flow whatever the number of rules
// that admit it, and a rule with a new port set adds a conjunction: its port and conj_id flows.
func TestFlowsGrowLinearly(t *testing.T) {
	base := flowCount(t, 200, 50)
	morePods := flowCount(t, 400, 50)
	morePolicies := flowCount(t, 200, 100)
	// 200 pods: 200 peer flows, 20 local pods with an applied-to and a drop flow; 50 policies (one port each): a
	// port and a conj_id flow each.
	if want := 200 + 20*2 + 50*2; base != want {
		t.Errorf("200 pods, 50 policies: %d flows, want %d", base, want)
	}
	if morePods-base != 200+20*2 {
		t.Errorf("200 more pods added %d flows, want %d", morePods-base, 200+20*2)
	}
	if morePolicies-base != 50*2 {
		t.Errorf("50 more policies added %d flows, want %d", morePolicies-base, 50*2)
	}
}

// A pod relabel, a pod delete and a policy port change each rewrite a handful of owners in one bundle.
func TestChangesTouchFewOwners(t *testing.T) {
	h, sw := nullHarness(t)
	addClients(h, "p", 100)
	_ = h.model.UpsertPod(pod("x", "server", "n1", "10.244.1.2", map[string]string{"role": "server"}))
	h.comp.setLocalPod("x/server", addr("10.244.1.2"), 10)
	np := ingressPolicy("x", "allow", map[string]string{"role": "server"},
		[]networkingv1.NetworkPolicyPeer{podPeer(map[string]string{"role": "client"})}, intstr.FromInt32(80))
	_ = h.model.UpsertPolicy(np)
	h.sync(t)
	bundles := sw.bundles

	_ = h.model.UpsertPod(pod("x", "p1", "n2", "10.244.2.3", map[string]string{"role": "other"}))
	if ch := h.sync(t); len(ch) != 1 || ch[0].Owner != addrOwner(netip.PrefixFrom(addr("10.244.2.3"), 32)) {
		t.Errorf("relabelling a client changed %v, want its address owner only", ch)
	}
	h.model.DeletePod("x", "p2")
	if ch := h.sync(t); len(ch) != 1 {
		t.Errorf("deleting a client changed %v, want its address owner only", ch)
	}
	np = ingressPolicy("x", "allow", map[string]string{"role": "server"},
		[]networkingv1.NetworkPolicyPeer{podPeer(map[string]string{"role": "client"})}, intstr.FromInt32(8080))
	_ = h.model.UpsertPolicy(np)
	if ch := h.sync(t); len(ch) != 2 {
		t.Errorf("changing the policy's port changed %d owners (%v), want the applied-to pod's and the ports'", len(ch), ch)
	}
	if got := sw.bundles - bundles; got != 3 {
		t.Errorf("%d bundles for three changes, want 3", got)
	}
}

// Rules with the same peer and ports share one conjunction: a second policy admitting the same clients on the
// same port to another pod adds only that pod's flows (its applied-to clause and default drop), and each client
// address has one ingress conjunction action whatever the number of such policies.
func TestRulesWithSamePeersSharePortsAndAddresses(t *testing.T) {
	h, sw := nullHarness(t)
	addClients(h, "c", 50)
	for i := 0; i < 5; i++ {
		name, ip := fmt.Sprintf("s%d", i), fmt.Sprintf("10.244.1.%d", 2+i)
		_ = h.model.UpsertPod(pod("x", name, "n1", ip, map[string]string{"app": name}))
		h.comp.setLocalPod("x/"+name, addr(ip), uint32(10+i))
	}
	clients := []networkingv1.NetworkPolicyPeer{podPeer(map[string]string{"role": "client"})}
	_ = h.model.UpsertPolicy(ingressPolicy("x", "np0", map[string]string{"app": "s0"}, clients, intstr.FromInt32(80)))
	h.sync(t)
	for i := 1; i < 5; i++ {
		_ = h.model.UpsertPolicy(ingressPolicy("x", fmt.Sprintf("np%d", i), map[string]string{"app": fmt.Sprintf("s%d", i)}, clients, intstr.FromInt32(80)))
		mods := sw.mods
		if h.sync(t); sw.mods-mods != 2 {
			t.Errorf("policy %d with the peers and port of policy 0 sent %d flow mods, want its pod's 2", i, sw.mods-mods)
		}
	}
	var clause string
	for _, o := range h.store.Owners() {
		for _, f := range o.Flows {
			if strings.Contains(f.Match, "nw_src=10.244.2.7") {
				clause = f.Actions
			}
		}
	}
	if n := strings.Count(clause, "conjunction("); n != 1 {
		t.Errorf("a client's ingress clause has %d conjunction actions (%q), want 1 shared by the 5 policies", n, clause)
	}
	// Policy 0 leaves: the others keep the conjunction, so only s0's flows go.
	mods := sw.mods
	h.model.DeletePolicy("x", "np0")
	if h.sync(t); sw.mods-mods != 2 {
		t.Errorf("deleting policy 0 sent %d flow mods, want s0's 2", sw.mods-mods)
	}
}
