package main

import (
	"strings"
	"testing"
)

// Every Switchyard path is judged against the baseline of its own path, not against the same-node bridge.
func TestBaselineTargetsPairEachPathWithItsOwnBaseline(t *testing.T) {
	res := func(key string, gbps, crr float64) *PathResult {
		return &PathResult{Path: Path{Key: key, Name: key}, Gbps1: []float64{gbps}, Gbps4: []float64{gbps}, CRR: []float64{crr}}
	}
	r := &Report{
		Datapath: []*PathResult{res(pathNormal, 1.0, 3000), res(pathSameNode, 0.9, 2900)},
		Crossnode: []*PathResult{res(pathNormalGeneve, 0.5, 1000), res("cross-geneve", 0.45, 700), // conn rate 0.70: not met
			res(pathNormalVXLAN, 0.5, 1000), res("cross-vxlan", 0.5, 1000),
			res("cross-noencap", 0.7, 1400)}, // no routed baseline measured
	}
	var b strings.Builder
	r.baselineTargets(&b)
	out := b.String()
	for _, want := range []string{
		"| Switchyard same node TCP 1 stream >= 0.8x OVS NORMAL same node | 0.9 vs 1.00 Gbit/s: ratio 0.90 | 1 of 1 | met |",
		"| Switchyard cross-node geneve TCP 1 stream >= 0.8x OVS NORMAL cross-node geneve | 0.45 vs 0.5 Gbit/s: ratio 0.90 | 1 of 1 | met |",
		"| Switchyard cross-node geneve TCP connection rate >= 0.8x OVS NORMAL cross-node geneve | 700 vs 1000 conn/s: ratio 0.70 | 0 of 1 | **not met** |",
		"| Switchyard cross-node vxlan TCP 4 streams >= 0.8x OVS NORMAL cross-node vxlan | 0.5 vs 0.5 Gbit/s: ratio 1.00 | 1 of 1 | met |",
		"| Switchyard cross-node noEncap >= 0.8x OVS NORMAL cross-node routed | baseline not measured in this run | n/a | n/a |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("targets lack %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 10 {
		t.Errorf("%d target rows, want 3 figures x 3 paths + 1 unmeasured:\n%s", n, out)
	}
	b.Reset()
	r.baselineRatios(&b)
	if !strings.Contains(b.String(), "| Switchyard cross-node geneve | OVS NORMAL cross-node geneve | 0.45 / 0.5 = 0.90 | 0.45 / 0.5 = 0.90 | 700 / 1000 = 0.70 |") {
		t.Errorf("ratio table:\n%s", b.String())
	}
}
