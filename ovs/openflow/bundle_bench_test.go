package openflow

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkBundle10k adds 10,000 flows in one Bundle to an emptied table and reports flows/s.
// Emptying the bridge between iterations is not timed.
func BenchmarkBundle10k(b *testing.B) {
	const n = 10000
	c, _ := testBridge(b)
	ctx := testContext(b)
	mods := benchFlows(n)
	var busy time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := c.DeleteAllFlowsAndGroups(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := c.Bundle(ctx, mods); err != nil {
			b.Fatal(err)
		}
		busy += time.Since(start)
	}
	b.StopTimer()
	counts, err := c.FlowCount(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if counts[70] != n {
		b.Fatalf("table 70 holds %d flows, want %d", counts[70], n)
	}
	b.ReportMetric(float64(n*b.N)/busy.Seconds(), "flows/s")
}

// BenchmarkDumpFlows10k dumps and parses a bridge holding 10,000 flows and reports flows/s.
func BenchmarkDumpFlows10k(b *testing.B) {
	const n = 10000
	c, _ := testBridge(b)
	ctx := testContext(b)
	if err := c.Bundle(ctx, benchFlows(n)); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		flows, err := c.DumpFlows(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(flows) != n {
			b.Fatalf("dumped %d flows, want %d", len(flows), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "flows/s")
}

// benchFlows are n /32 routes in table 70, like the lab's OpenFlow speed measurements.
func benchFlows(n int) []Mod {
	mods := make([]Mod, n)
	for i := range mods {
		mods[i] = Mod{Op: AddFlow, Flow: Flow{
			Table: 70, Priority: 200, Cookie: 0x7000_0000 | uint64(i),
			Match:   fmt.Sprintf("ip,nw_dst=10.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff),
			Actions: fmt.Sprintf("set_field:02:00:00:00:%02x:%02x->eth_dst,dec_ttl,output:LOCAL", (i>>8)&0xff, i&0xff),
		}}
	}
	return mods
}
