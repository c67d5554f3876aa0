package networkpolicy

import (
	"context"
	"fmt"
	"math/rand"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/policy"
)

// scale is a synthetic cluster: pods spread over namespaces and nodes (node n1 is this node), each with an app
// and a role label, and policies that select one app and admit a role of their namespace plus the pods of other
// namespaces of a team, on a port and a port range, and let the app reach another app and a CIDR on one port.
type scale struct {
	namespaces, pods, policies, nodes, apps int
}

var benchScale = scale{namespaces: 10, pods: 1000, policies: 500, nodes: 10, apps: 25}

func (s scale) podIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 244, byte(i % s.nodes), byte(2 + i/s.nodes)})
}

func (s scale) objects() ([]*corev1.Namespace, []*corev1.Pod, []*networkingv1.NetworkPolicy) {
	var nss []*corev1.Namespace
	for n := 0; n < s.namespaces; n++ {
		nss = append(nss, namespace(fmt.Sprintf("ns%d", n), map[string]string{"team": fmt.Sprintf("t%d", n%3)}))
	}
	var pods []*corev1.Pod
	for i := 0; i < s.pods; i++ {
		labels := map[string]string{"app": fmt.Sprintf("app%d", i%s.apps), "role": fmt.Sprintf("r%d", i%4)}
		pods = append(pods, pod(fmt.Sprintf("ns%d", i%s.namespaces), fmt.Sprintf("p%d", i), fmt.Sprintf("n%d", 1+i%s.nodes),
			s.podIP(i).String(), labels, 8080))
	}
	var nps []*networkingv1.NetworkPolicy
	for i := 0; i < s.policies; i++ {
		nps = append(nps, s.policy(i, 80))
	}
	return nss, pods, nps
}

// policy is policy i; port varies it for update benchmarks.
func (s scale) policy(i int, port int32) *networkingv1.NetworkPolicy {
	tcp := corev1.ProtocolTCP
	p, named, lo := intstr.FromInt32(port), intstr.FromString("serve-8080-tcp"), intstr.FromInt32(9000)
	end := int32(9100)
	ns := fmt.Sprintf("ns%d", i%s.namespaces)
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("np%d", i)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app%d", i%s.apps)}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{
					podPeer(map[string]string{"role": fmt.Sprintf("r%d", i%4)}),
					nsPeer(map[string]string{"team": fmt.Sprintf("t%d", i%3)}),
				},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}, {Protocol: &tcp, Port: &lo, EndPort: &end}, {Protocol: &tcp, Port: &named}},
			}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{podPeer(map[string]string{"app": fmt.Sprintf("app%d", (i+1)%s.apps)}),
					{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("172.%d.0.0/16", 16+i%16)}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}},
			}},
		}}
}

// load fills a model and the compiler's local pods (those on n1, with ofports from 10).
func (s scale) load(model *policy.Store, comp *compiler) {
	nss, pods, nps := s.objects()
	for _, ns := range nss {
		model.UpsertNamespace(ns)
	}
	for i, p := range pods {
		_ = model.UpsertPod(p)
		if p.Spec.NodeName == "n1" {
			comp.setLocalPod(p.Namespace+"/"+p.Name, s.podIP(i), uint32(10+i))
		}
	}
	for _, np := range nps {
		_ = model.UpsertPolicy(np)
	}
}

// BenchmarkFullSync: 1,000 pods and 500 policies computed and installed into a real private OVS as the agent
// does on start (Stage, then Reconcile: one bundle), then the same through Apply on a running store.
func BenchmarkFullSync(b *testing.B) {
	for range b.N {
		of, _ := testBridge(b, map[string]int{"gw0": 2})
		ctx := context.Background()
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		model, comp := policy.NewStore(), newCompiler()
		benchScale.load(model, comp)
		comp.apply(model.TakeDelta())
		comp.markAll()
		changes := comp.changes()
		tCompute := time.Since(t0)
		store := flows.NewStore(of)
		if err := store.Stage(flows.Owner{Category: flows.Pipeline, Key: "node"}, flows.PipelineFlows(testNode), nil); err != nil {
			b.Fatal(err)
		}
		for _, ch := range changes {
			if !ch.Delete {
				if err := store.Stage(ch.Owner, ch.Flows, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := store.Reconcile(ctx); err != nil {
			b.Fatal(err)
		}
		total := time.Since(t0)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		dumped, err := of.DumpFlows(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(total.Seconds(), "sync-s")
		b.ReportMetric(tCompute.Seconds(), "compute-s")
		b.ReportMetric(float64(len(dumped)), "flows")
		b.ReportMetric(float64(len(changes)), "owners")
		b.ReportMetric(float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/(1<<20), "heap-MiB")

		// The runtime path: everything again as one Apply (one bundle) on a reconciled, empty store.
		of2, _ := testBridge(b, map[string]int{"gw0": 2})
		store2 := flows.NewStore(of2)
		if err := store2.Reconcile(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := store2.Apply(ctx, changes); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t1).Seconds(), "apply-s")
	}
}

// BenchmarkSingleChange: with the full model installed in a real OVS, the latency of one event to flows
// installed (model update, delta, compute, one bundle), over pod relabels, pod adds and deletes, policy port
// updates and the creation and deletion of a policy whose peers are a third of the cluster; reports p50 and p99.
func BenchmarkSingleChange(b *testing.B) {
	of, _ := testBridge(b, map[string]int{"gw0": 2})
	ctx := context.Background()
	model, comp := policy.NewStore(), newCompiler()
	benchScale.load(model, comp)
	comp.apply(model.TakeDelta())
	comp.markAll()
	changes := comp.changes()
	store := flows.NewStore(of)
	for _, ch := range changes {
		if !ch.Delete {
			if err := store.Stage(ch.Owner, ch.Flows, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := store.Reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	comp.clean(changes)
	h := &harness{model: model, comp: comp, store: store}
	_, pods, _ := benchScale.objects()
	rng := rand.New(rand.NewSource(1))
	events := []func(i int){
		func(i int) { // a pod changes app: leaves one applied-to and peer group, joins another
			p := pods[rng.Intn(len(pods))].DeepCopy()
			p.Labels["app"] = fmt.Sprintf("app%d", rng.Intn(benchScale.apps))
			_ = model.UpsertPod(p)
		},
		func(i int) { // a policy's port changes
			_ = model.UpsertPolicy(benchScale.policy(rng.Intn(benchScale.policies), int32(81+i%50)))
		},
		func(i int) { // a new pod appears on a remote node, then goes
			p := pod("ns1", fmt.Sprintf("extra%d", i), "n2", fmt.Sprintf("10.245.%d.%d", i/250, 1+i%250), map[string]string{"app": "app1", "role": "r1"})
			_ = model.UpsertPod(p)
		},
		func(i int) { model.DeletePod("ns1", fmt.Sprintf("extra%d", i-1)) },
		func(i int) { // a new policy whose peers are a third of the cluster (a team's namespaces), then it goes
			np := benchScale.policy(i%benchScale.policies, 80)
			np.Name = "extra"
			_ = model.UpsertPolicy(np)
		},
		func(i int) {
			model.DeletePolicy(fmt.Sprintf("ns%d", (i-1)%benchScale.policies%benchScale.namespaces), "extra")
		},
	}
	var lat []time.Duration
	mods := 0
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		events[i%len(events)](i)
		ch := h.sync(b)
		lat = append(lat, time.Since(t0))
		mods += len(ch)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(mods)/float64(b.N), "owners/change")
}
