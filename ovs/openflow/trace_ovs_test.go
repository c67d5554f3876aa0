package openflow

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func TestTraceTwoTablePipeline(t *testing.T) {
	c, _ := testBridge(t)
	ctx := testContext(t)
	mustBundle(t, c, addFlows(
		Flow{Table: 0, Priority: 10, Cookie: 0xa, Match: "ip,in_port=1", Actions: "goto_table:10"},
		Flow{Table: 10, Priority: 20, Cookie: 0xb, Match: "ip,nw_dst=10.0.0.2", Actions: "set_field:aa:bb:cc:dd:ee:ff->eth_dst,output:2"},
	)...)

	tr, err := c.Trace(ctx, "in_port=1,ip,nw_src=10.0.0.1,nw_dst=10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Steps) != 2 {
		t.Fatalf("want 2 steps, got %+v\n%s", tr.Steps, tr.Raw)
	}
	first, second := tr.Steps[0], tr.Steps[1]
	if first.Table != 0 || first.Priority != 10 || first.Cookie != 0xa || first.Match != "ip,in_port=1" ||
		len(first.Actions) != 1 || first.Actions[0].Text != "goto_table:10" || first.Bridge != c.Bridge() {
		t.Errorf("step 1: %+v", first)
	}
	if second.Table != 10 || second.Priority != 20 || second.Cookie != 0xb || second.Match != "ip,nw_dst=10.0.0.2" {
		t.Errorf("step 2: %+v", second)
	}
	if tr.Dropped() || !reflect.DeepEqual(tr.OutputPorts(), []string{"2"}) {
		t.Fatalf("Dropped %v, OutputPorts %v\n%s", tr.Dropped(), tr.OutputPorts(), tr.Raw)
	}

	dropped, err := c.Trace(ctx, "in_port=1,ip,nw_dst=10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if !dropped.Dropped() || len(dropped.OutputPorts()) != 0 || dropped.FinalDatapathActions() != "drop" {
		t.Fatalf("packet to 10.0.0.9 not dropped:\n%s", dropped.Raw)
	}
	if last := dropped.Steps[len(dropped.Steps)-1]; last.Table != 10 || !last.Miss {
		t.Fatalf("last step %+v, want a miss in table 10", last)
	}

	var rejected *RejectedError
	if _, err := c.Trace(ctx, "in_port=1,ipx"); !errors.As(err, &rejected) {
		t.Fatalf("bad trace flow: want a RejectedError, got %v", err)
	}
}

func TestConnectedAndUnreachable(t *testing.T) {
	c, o := testBridge(t)
	ctx := testContext(t)
	if err := c.Connected(ctx); err != nil {
		t.Fatal(err)
	}
	ports, err := c.DumpPorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 { // p1, p2 and LOCAL
		t.Fatalf("DumpPorts: %d ports, want 3", len(ports))
	}

	var unreachable *UnreachableError
	missing := New(Config{Bridge: "br-missing", RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl()})
	if err := missing.Connected(ctx); !errors.As(err, &unreachable) {
		t.Fatalf("missing bridge: want an UnreachableError, got %v", err)
	}
	if err := missing.Bundle(ctx, addFlows(Flow{Actions: "drop"})); !errors.As(err, &unreachable) {
		t.Fatalf("bundle to a missing bridge: want an UnreachableError, got %v", err)
	}
	if _, err := missing.Trace(ctx, "in_port=1"); !errors.As(err, &unreachable) {
		t.Fatalf("trace on a missing bridge: want an UnreachableError, got %v", err)
	}
	noDaemon := New(Config{Bridge: c.Bridge(), RunDir: t.TempDir(), VswitchdCtl: filepath.Join(t.TempDir(), "x.ctl")})
	if _, err := noDaemon.Trace(ctx, "in_port=1"); !errors.As(err, &unreachable) {
		t.Fatalf("trace without vswitchd: want an UnreachableError, got %v", err)
	}
	if _, err := noDaemon.DumpFlows(ctx); !errors.As(err, &unreachable) {
		t.Fatalf("dump without vswitchd: want an UnreachableError, got %v", err)
	}
}
