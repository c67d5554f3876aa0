package openflow

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// With PrestartBundles, bundles go through processes started ahead: they apply, a bad line is reported as by a
// fresh process, a stopped switch is unreachable, and Close leaves no waiting process behind.
func TestPrestartedBundles(t *testing.T) {
	plain, o := testBridge(t)
	c := New(Config{Bridge: plain.Bridge(), RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl(), PrestartBundles: true})
	ctx := testContext(t)
	n := 0
	for _, f := range pipelineFlows {
		if strings.Contains(f.Actions, "group:") {
			continue // no group on this bridge
		}
		if err := c.Bundle(ctx, addFlows(f)); err != nil {
			t.Fatalf("bundle of %s: %v", f.Key(), err)
		}
		n++
	}
	if got := mustDumpFlows(t, c); len(got) != n {
		t.Fatalf("%d flows after %d bundles of one flow", len(got), n)
	}
	err := c.Bundle(ctx, addFlows(Flow{Table: 1, Priority: 1, Match: "ip", Actions: "goto_table:0"}))
	var rejected *RejectedError
	if !errors.As(err, &rejected) {
		t.Fatalf("a goto to an earlier table: want a RejectedError, got %v", err)
	}
	waiting := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if waiting = waitingBundleProcs(t, c.Target()); waiting == 1 { // the next one is started in the background
			break
		}
	}
	if waiting != 1 {
		t.Errorf("%d ovs-ofctl processes waiting for a bundle, want 1", waiting)
	}
	c.Close()
	if waiting := waitingBundleProcs(t, c.Target()); waiting != 0 {
		t.Errorf("after Close: %d ovs-ofctl processes still waiting", waiting)
	}
	if err := c.Bundle(ctx, addFlows(Flow{Table: 30, Priority: 1, Actions: "drop"})); err != nil {
		t.Errorf("bundle after Close: %v", err)
	}
	if err := o.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	c2 := New(Config{Bridge: plain.Bridge(), RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl(), PrestartBundles: true})
	defer c2.Close()
	var unreachable *UnreachableError
	if err := c2.Bundle(ctx, addFlows(Flow{Actions: "drop"})); !errors.As(err, &unreachable) {
		t.Errorf("bundle without vswitchd: want an UnreachableError, got %v", err)
	}
}

// waitingBundleProcs counts this process's ovs-ofctl children bundling to target.
func waitingBundleProcs(t *testing.T, target string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	n := 0
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) || fields[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(cmdline), "ovs-ofctl") && strings.Contains(string(cmdline), target) {
			n++
		}
	}
	return n
}
