package ovsdb

import (
	"maps"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

func TestEnsureBridgeIsIdempotent(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	before := e.rowCounts(t)
	want := map[string]int{"Bridge": 1, "Port": 1, "Interface": 1, "Flow_Table": 3}
	if !maps.Equal(before, want) {
		t.Fatalf("rows after first EnsureBridge: %v, want %v", before, want)
	}
	nextCfg := e.vsctl(t, "get", "Open_vSwitch", ".", "next_cfg")
	e.ensureBridge(t, "br-int")
	if after := e.rowCounts(t); !maps.Equal(before, after) {
		t.Fatalf("second EnsureBridge changed row counts: %v -> %v", before, after)
	}
	// Every transaction of the client increments next_cfg: an unchanged next_cfg means none was sent.
	if got := e.vsctl(t, "get", "Open_vSwitch", ".", "next_cfg"); got != nextCfg {
		t.Fatalf("second EnsureBridge sent a transaction (next_cfg %s -> %s)", nextCfg, got)
	}

	for column, want := range map[string]string{
		"datapath_type":                 "netdev",
		"fail_mode":                     "secure",
		"protocols":                     "[OpenFlow13, OpenFlow14, OpenFlow15]",
		"external_ids:switchyard/owner": `test`,
		"other_config:hwaddr":           `"0a:00:00:00:00:01"`,
	} {
		if got := e.vsctl(t, "get", "Bridge", "br-int", column); got != want {
			t.Errorf("Bridge br-int %s = %s, want %s", column, got, want)
		}
	}
	if got := e.vsctl(t, "list-br"); got != "br-int" {
		t.Errorf("list-br (Open_vSwitch.bridges) = %q, want br-int", got)
	}
	if !nettest.LinkExistsIn(t, e.ns, "br-int") {
		t.Errorf("bridge's local port br-int is not a device in netns %s", e.ns)
	}
	if got := e.c.BridgeExternalIDs("br-int")["switchyard/owner"]; got != "test" {
		t.Errorf("BridgeExternalIDs()[switchyard/owner] = %q, want test", got)
	}
}

func TestEnsureBridgeUpdatesDrift(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	// Someone changes the bridge behind the agent's back; a second key is not the agent's and must survive.
	e.vsctl(t, "set", "Bridge", "br-int", "fail_mode=standalone", "protocols=OpenFlow10",
		"external_ids:switchyard/owner=other", "external_ids:keep=me")
	spec := netdevBridge("br-int")
	spec.TableNames = map[uint8]string{0: "classifier", 10: "arp", 60: "egress"}
	if err := e.c.EnsureBridge(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	for column, want := range map[string]string{
		"fail_mode":                     "secure",
		"protocols":                     "[OpenFlow13, OpenFlow14, OpenFlow15]",
		"external_ids:switchyard/owner": "test",
		"external_ids:keep":             "me",
	} {
		if got := e.vsctl(t, "get", "Bridge", "br-int", column); got != want {
			t.Errorf("after drift: Bridge br-int %s = %s, want %s", column, got, want)
		}
	}
	names := e.vsctl(t, "--bare", "--columns=name", "list", "Flow_Table")
	for _, want := range []string{"classifier", "arp", "egress"} {
		if !strings.Contains(names, want) {
			t.Errorf("Flow_Table names %q lack %q", names, want)
		}
	}
	if strings.Contains(names, "output") {
		t.Errorf("Flow_Table names %q still hold the dropped table name output", names)
	}
}

func TestTableNamesVisibleInOpenFlow(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	if _, err := e.ovs.Ofctl(e.ctx, "add-flow", "br-int", "table=10,priority=5,arp,actions=drop"); err != nil {
		t.Fatal(err)
	}
	out, err := e.ovs.Ofctl(e.ctx, "dump-flows", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "table=10,") || !strings.Contains(out, "priority=5,arp") {
		t.Fatalf("dump-flows lacks the added flow:\n%s", out)
	}
	named, err := e.ovs.Ofctl(e.ctx, "dump-flows", "br-int", "--names")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(named, `table="arp-responder"`) {
		t.Fatalf("dump-flows --names does not show table 10 as arp-responder:\n%s", named)
	}
}

func TestDeleteBridge(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-del")
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-del", Name: "gw0", Type: InterfaceInternal}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := e.c.DeleteBridge(e.ctx, "br-del"); err != nil {
			t.Fatalf("DeleteBridge #%d: %v", i+1, err)
		}
	}
	if got := e.rowCounts(t); !maps.Equal(got, map[string]int{"Bridge": 0, "Port": 0, "Interface": 0, "Flow_Table": 0}) {
		t.Fatalf("rows left after DeleteBridge: %v", got)
	}
	if ports := e.c.Ports("br-del"); ports != nil {
		t.Fatalf("Ports() of the deleted bridge = %v", ports)
	}
	waitFor(t, "the bridge's device to disappear", func() bool { return !nettest.LinkExistsIn(t, e.ns, "br-del") })
}

func TestBridgeSpecValidation(t *testing.T) {
	for _, spec := range []BridgeSpec{
		{},
		{Name: "br", DatapathType: "dpdk"},
		{Name: "br", TableNames: map[uint8]string{255: "too-high"}},
	} {
		if err := spec.validate(); err == nil {
			t.Errorf("spec %+v: no validation error", spec)
		}
	}
	if err := netdevBridge("br").validate(); err != nil {
		t.Errorf("valid spec rejected: %v", err)
	}
}

// A Standalone bridge gets fail_mode=standalone (vswitchd forwards with its own NORMAL flow), kept on a repeat.
func TestEnsureBridgeStandalone(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	spec := netdevBridge("br-phy")
	spec.Standalone = true
	for range 2 {
		if err := e.c.EnsureBridge(e.ctx, spec); err != nil {
			t.Fatal(err)
		}
		if got := e.vsctl(t, "get", "Bridge", "br-phy", "fail_mode"); got != "standalone" {
			t.Errorf("fail_mode = %s, want standalone", got)
		}
	}
	spec.Standalone = false
	if err := e.c.EnsureBridge(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := e.vsctl(t, "get", "Bridge", "br-phy", "fail_mode"); got != "secure" {
		t.Errorf("fail_mode = %s after Standalone=false, want secure", got)
	}
}
