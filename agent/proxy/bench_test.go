package proxy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// computeAll plans every Service and builds its flows and groups, as StageAll does.
func computeAll(svcs []*corev1.Service, slices []*discovery.EndpointSlice, ids *groupIDs) (nflows, ngroups int) {
	for i, svc := range svcs {
		f, g := computeOne(svc, slices[i:i+1], ids)
		nflows += len(f)
		ngroups += len(g)
	}
	return nflows, ngroups
}

func computeOne(svc *corev1.Service, slices []*discovery.EndpointSlice, ids *groupIDs) ([]openflow.Flow, []openflow.Group) {
	plan := ComputePlan(svc, slices, testNodeName)
	keys := make([]lbKey, len(plan.LBs))
	for i, p := range plan.LBs {
		keys[i] = p.Key
	}
	got, _, err := ids.assign(svc.Namespace+"/"+svc.Name, keys)
	if err != nil {
		panic(err)
	}
	lbs := make([]flows.LoadBalancer, len(plan.LBs))
	for i, p := range plan.LBs {
		p.LB.ID = got[i]
		lbs[i] = p.LB
	}
	return flows.ServiceFlows(testServiceConfig, lbs)
}

// 5,000 Services x 10 endpoints from scratch: plan, allocate group ids, build flows and groups.
func BenchmarkComputeAll5000x10(b *testing.B) {
	svcs, slices := bigCluster(5000, 10)
	b.ResetTimer()
	var nf, ng int
	for b.Loop() {
		nf, ng = computeAll(svcs, slices, newGroupIDs())
	}
	b.ReportMetric(float64(nf), "flows")
	b.ReportMetric(float64(ng), "groups")
}

// One endpoint of one Service changes: recompute that Service (what Sync does before its one Set).
func BenchmarkComputeOneUpdate(b *testing.B) {
	svcs, slices := bigCluster(5000, 10)
	ids := newGroupIDs()
	computeAll(svcs, slices, ids)
	s := slices[42].DeepCopy()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Endpoints[i%10].Addresses[0] = []string{"10.200.0.1", "10.200.0.2"}[i%2]
		computeOne(svcs[42], []*discovery.EndpointSlice{s}, ids)
	}
}

// The counts of the benchmark's cluster, checked in a normal test run.
func TestComputeAllCounts(t *testing.T) {
	svcs, slices := bigCluster(500, 10)
	nf, ng := computeAll(svcs, slices, newGroupIDs())
	// One ServiceLB flow and ten EndpointDNAT flows per Service (no endpoint on this node is
	// local in bigCluster... except those placed on node-1: one in ten).
	if ng != 500 || nf < 500*11 || nf > 500*12 {
		t.Errorf("500 Services x 10 endpoints gave %d flows and %d groups", nf, ng)
	}
}
