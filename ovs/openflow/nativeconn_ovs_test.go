package openflow

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// nativeFlows are flows the native encoder knows: the shapes of a pod's flows (flows/testdata/pod.golden) and a
// few more of its match and action forms, as OVS prints them.
var nativeFlows = []Flow{
	{Table: 0, Priority: 200, Cookie: 0x1, Match: "in_port=10", Actions: "set_field:0x3/0xf->reg0,goto_table:10"},
	{Table: 10, Priority: 200, Cookie: 0x1, Match: "ip,in_port=10,dl_src=0a:58:0a:f4:01:02,nw_src=10.244.1.2", Actions: "goto_table:30"},
	{Table: 10, Priority: 200, Cookie: 0x1, Match: "arp,in_port=10,dl_src=0a:58:0a:f4:01:02,arp_spa=10.244.1.2,arp_sha=0a:58:0a:f4:01:02", Actions: "goto_table:20"},
	{Table: 20, Priority: 200, Cookie: 0x1, Match: "arp,arp_tpa=10.244.1.2,arp_op=1",
		Actions: "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:0a:f4:01:02->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:0a:58:0a:f4:01:02->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.244.1.2->arp_spa,IN_PORT"},
	{Table: 20, Priority: 210, Cookie: 0x1, Match: "arp,in_port=10,arp_spa=10.244.1.2,arp_tpa=10.244.1.2", Actions: "output:2"},
	{Table: 50, Priority: 200, Cookie: 0x1, Match: "ip,dl_dst=0a:58:0a:f4:01:01,nw_dst=10.244.1.2",
		Actions: "set_field:0a:58:0a:f4:01:01->eth_src,set_field:0a:58:0a:f4:01:02->eth_dst,dec_ttl,goto_table:60"},
	{Table: 60, Priority: 200, Cookie: 0x1, Match: "dl_dst=0a:58:0a:f4:01:02", Actions: "set_field:0xa->reg1,set_field:0x10/0x10->reg0,goto_table:70"},
	{Table: 90, Priority: 210, Cookie: 0x1, Match: "reg0=0x10/0x10,reg1=0xa,in_port=10", Actions: "IN_PORT"},
	{Table: 40, Priority: 100, Cookie: 0x2, Match: "ip,nw_dst=10.244.2.0/24", Actions: "output:1"},
	{Table: 40, Priority: 100, Cookie: 0x2, Match: "arp,arp_tpa=10.244.2.0/24", Actions: "set_field:10.244.2.1->arp_tpa,set_field:0a:58:0a:f4:02:01->arp_tha,output:1"},
	{Table: 40, Priority: 90, Cookie: 0x2, Match: "ip,nw_src=10.0.0.0/255.0.0.0", Actions: "drop"},
	{Table: 41, Priority: 0, Cookie: 0x3, Actions: "drop"},
}

// TestNativeBundleInstallsWhatOvsOfctlInstalls applies the same mods through the native connection to one bridge
// and through ovs-ofctl to another: the dumps must be identical, adds and strict deletes alike.
func TestNativeBundleInstallsWhatOvsOfctlInstalls(t *testing.T) {
	plain, o := testBridge(t)
	ctx := testContext(t)
	nativeBr := plain.Bridge() + "n"
	if err := o.Vsctl(ctx, "add-br", nativeBr, "--", "set", "bridge", nativeBr, "datapath_type=netdev",
		"protocols=OpenFlow15", "fail_mode=secure"); err != nil {
		t.Fatal(err)
	}
	native := New(Config{Bridge: nativeBr, RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl(), NativeBundles: true})
	t.Cleanup(native.Close)

	mustBundle(t, native, addFlows(nativeFlows...)...)
	mustBundle(t, plain, addFlows(nativeFlows...)...)
	if n, fb := native.NativeBundleCounts(); n != 1 || fb != 0 {
		t.Fatalf("native bundles %d, fallbacks %d; want the bundle applied natively", n, fb)
	}
	got, want := mustDumpFlows(t, native), mustDumpFlows(t, plain)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("native install differs from ovs-ofctl's:\n got %+v\nwant %+v", got, want)
	}
	if len(got) != len(nativeFlows) {
		t.Fatalf("dumped %d flows, want %d", len(got), len(nativeFlows))
	}

	var dels []Mod
	for _, f := range nativeFlows[:5] {
		dels = append(dels, Mod{Op: DeleteFlow, Flow: f})
	}
	mustBundle(t, native, dels...)
	mustBundle(t, plain, dels...)
	if n, fb := native.NativeBundleCounts(); n != 2 || fb != 0 {
		t.Fatalf("native bundles %d, fallbacks %d after the deletes", n, fb)
	}
	got, want = mustDumpFlows(t, native), mustDumpFlows(t, plain)
	if !reflect.DeepEqual(got, want) || len(got) != len(nativeFlows)-5 {
		t.Fatalf("after strict deletes, native:\n %+v\novs-ofctl:\n %+v", got, want)
	}
}

// TestNativeBundleFallsBackAndRejectsAtomically: syntax the encoder does not know goes through ovs-ofctl; a mod
// the switch refuses fails the whole bundle, naming the mod, and applies nothing; a connection broken behind the
// client's back costs one fallback, then the connection is made again.
func TestNativeBundleFallsBackAndRejectsAtomically(t *testing.T) {
	_, o := testBridge(t)
	ctx := testContext(t)
	br := "nb" + o.Netns[len(o.Netns)-6:]
	if err := o.Vsctl(ctx, "add-br", br, "--", "set", "bridge", br, "datapath_type=netdev",
		"protocols=OpenFlow15", "fail_mode=secure"); err != nil {
		t.Fatal(err)
	}
	c := New(Config{Bridge: br, RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl(), NativeBundles: true})
	t.Cleanup(c.Close)

	mustBundle(t, c, addFlows(pipelineFlows[0])...) // ct(...): ovs-ofctl
	if n, fb := c.NativeBundleCounts(); n != 0 || fb != 1 {
		t.Fatalf("native %d, fallbacks %d; want one fallback", n, fb)
	}

	bad := Flow{Table: 50, Priority: 1, Cookie: 0x9, Match: "ip", Actions: "goto_table:10"} // backwards
	err := c.Bundle(ctx, addFlows(nativeFlows[1], bad))
	var rej *RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("bundle with a backwards goto_table: %v, want a *RejectedError", err)
	}
	t.Logf("rejection: %v", err)
	if flows := mustDumpFlows(t, c); len(flows) != 1 {
		t.Fatalf("%d flows after the refused bundle, want only the first one: %+v", len(flows), flows)
	}

	// Break the connection behind the client's back: the next bundle falls back or connects again, and the one
	// after goes natively.
	c.native.mu.Lock()
	conn := c.native.conn
	c.native.mu.Unlock()
	if conn == nil {
		t.Fatal("no native connection open")
	}
	_ = conn.Close()
	mustBundle(t, c, addFlows(nativeFlows[1])...)
	n0, _ := c.NativeBundleCounts()
	mustBundle(t, c, addFlows(nativeFlows[2])...)
	n, fb := c.NativeBundleCounts()
	if n != n0+1 || n+fb != 4 {
		t.Fatalf("native %d, fallbacks %d (native %d before the last); want the last bundle native, 4 in all", n, fb, n0)
	}
	if flows := mustDumpFlows(t, c); len(flows) != 3 {
		t.Fatalf("%d flows, want 3: %+v", len(flows), flows)
	}

	// Added ports are reported on the connection, with their numbers; other ports' watchers hear nothing.
	wait, stop, ok := c.WatchPortAdded("pw1")
	if !ok {
		t.Fatal("WatchPortAdded: no connection")
	}
	defer stop()
	waitOther, stopOther, _ := c.WatchPortAdded("pw2")
	defer stopOther()
	if err := o.Vsctl(ctx, "add-port", br, "pw1", "--", "set", "interface", "pw1", "type=internal", "ofport_request=33"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if port, err := wait(wctx); err != nil || port != 33 {
		t.Fatalf("port pw1 reported as number %d (%v), want 33", port, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if port, err := waitOther(short); err == nil {
		t.Fatalf("watcher of pw2 told of port %d", port)
	}
}
