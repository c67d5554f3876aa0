package networkpolicy

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/agent/networkpolicy/synthetic"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/policy"
)

// benchScale is the cluster of issue 6's targets: 1,000 pods and 500 policies (10 namespaces, 25 apps, 10 nodes).
var benchScale = synthetic.ForObjects(1000)

// load fills a model and the compiler's local pods (those on n1, with ofports from 10).
func load(s synthetic.Cluster, model *policy.Store, comp *compiler) {
	nss, pods, nps := s.Objects()
	for _, ns := range nss {
		model.UpsertNamespace(ns)
	}
	for i, p := range pods {
		_ = model.UpsertPod(p)
		if p.Spec.NodeName == synthetic.LocalNode {
			comp.setLocalPod(p.Namespace+"/"+p.Name, s.PodIP(i), uint32(10+i))
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
		load(benchScale, model, comp)
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
	load(benchScale, model, comp)
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
	_, pods, _ := benchScale.Objects()
	rng := rand.New(rand.NewSource(1))
	events := []func(i int){
		func(i int) { // a pod changes app: leaves one applied-to and peer group, joins another
			p := pods[rng.Intn(len(pods))].DeepCopy()
			p.Labels["app"] = fmt.Sprintf("app%d", rng.Intn(benchScale.Apps))
			_ = model.UpsertPod(p)
		},
		func(i int) { // a policy's port changes
			_ = model.UpsertPolicy(benchScale.Policy(rng.Intn(benchScale.Policies), int32(81+i%50)))
		},
		func(i int) { // a new pod appears on a remote node, then goes
			p := pod("ns1", fmt.Sprintf("extra%d", i), "n2", fmt.Sprintf("10.245.%d.%d", i/250, 1+i%250), map[string]string{"app": "app1", "role": "r1"})
			_ = model.UpsertPod(p)
		},
		func(i int) { model.DeletePod("ns1", fmt.Sprintf("extra%d", i-1)) },
		func(i int) { // a new policy whose peers are a third of the cluster (a team's namespaces), then it goes
			np := benchScale.Policy(i%benchScale.Policies, 80)
			np.Name = "extra"
			_ = model.UpsertPolicy(np)
		},
		func(i int) {
			model.DeletePolicy(fmt.Sprintf("ns%d", (i-1)%benchScale.Policies%benchScale.Namespaces), "extra")
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
