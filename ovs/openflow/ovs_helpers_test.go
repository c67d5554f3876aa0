package openflow

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// testBridge starts a private OVS in a new namespace with one netdev bridge (OpenFlow15, fail_mode
// secure) holding internal ports p1 and p2 as OpenFlow ports 1 and 2. Everything is removed when
// the test ends.
func testBridge(tb testing.TB) (*Client, *privateovs.OVS) {
	tb.Helper()
	nettest.RequireOVS(tb)
	ns := nettest.NewNetns(tb, "of")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := privateovs.Start(ctx, privateovs.Options{Netns: ns})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := o.Stop(); err != nil {
			tb.Errorf("stop private OVS: %v", err)
		}
	})
	br := nettest.UniqueName("br")
	if err := o.Vsctl(ctx, "add-br", br, "--", "set", "bridge", br, "datapath_type=netdev",
		"protocols=OpenFlow15", "fail_mode=secure",
		"--", "add-port", br, "p1", "--", "set", "interface", "p1", "type=internal", "ofport_request=1",
		"--", "add-port", br, "p2", "--", "set", "interface", "p2", "type=internal", "ofport_request=2"); err != nil {
		tb.Fatal(err)
	}
	return New(Config{Bridge: br, RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl()}), o
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// withoutCounters drops packet and byte counts so dumps taken at different times compare.
func withoutCounters(flows []Flow) []Flow {
	out := make([]Flow, len(flows))
	for i, f := range flows {
		f.Packets, f.Bytes = 0, 0
		out[i] = f
	}
	return out
}

func mustBundle(tb testing.TB, c *Client, mods ...Mod) {
	tb.Helper()
	if err := c.Bundle(testContext(tb), mods); err != nil {
		tb.Fatal(err)
	}
}

func mustDumpFlows(tb testing.TB, c *Client) []Flow {
	tb.Helper()
	flows, err := c.DumpFlows(testContext(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return withoutCounters(flows)
}

func addFlows(flows ...Flow) []Mod {
	mods := make([]Mod, len(flows))
	for i, f := range flows {
		mods[i] = Mod{Op: AddFlow, Flow: f}
	}
	return mods
}
