package ovsdb

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

func TestInternalPortWithMACAndOfportRequest(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	spec := PortSpec{Bridge: "br-int", Name: "gw0", Type: InterfaceInternal, OfportRequest: 7,
		MAC: "0a:58:0a:f4:01:01", MTURequest: 1450, ExternalIDs: map[string]string{"switchyard/role": "gateway"}}
	if err := e.c.EnsurePort(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	ofport, err := e.c.WaitOfport(e.ctx, "gw0")
	if err != nil || ofport != 7 {
		t.Fatalf("WaitOfport(gw0) = %d, %v; want 7", ofport, err)
	}
	// OfportsInUse: the bridge's ofport and ofport_request numbers (gw0's 7 and LOCAL), not another bridge's.
	e.ensureBridge(t, "br-other")
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-other", Name: "o9", Type: InterfaceInternal, OfportRequest: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.WaitOfport(e.ctx, "o9"); err != nil {
		t.Fatal(err)
	}
	if used := e.c.OfportsInUse("br-int"); !used[7] || used[9] || len(used) != 2 {
		t.Fatalf("OfportsInUse(br-int) = %v, want 7 and LOCAL (65534) only", used)
	}
	before := e.rowCounts(t)
	nextCfg := e.vsctl(t, "get", "Open_vSwitch", ".", "next_cfg")
	if err := e.c.EnsurePort(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	if after := e.rowCounts(t); !maps.Equal(before, after) {
		t.Fatalf("second EnsurePort changed row counts: %v -> %v", before, after)
	}
	if got := e.vsctl(t, "get", "Open_vSwitch", ".", "next_cfg"); got != nextCfg {
		t.Fatalf("second EnsurePort sent a transaction (next_cfg %s -> %s)", nextCfg, got)
	}

	// vswitchd runs in the namespace, so the internal port's tap device is there, with the requested MAC and MTU.
	link := nettest.Run(t, "ip", "-n", e.ns, "link", "show", "gw0")
	if !strings.Contains(link, "link/ether 0a:58:0a:f4:01:01") || !strings.Contains(link, "mtu 1450") {
		t.Fatalf("gw0 in netns %s does not have the requested MAC and MTU:\n%s", e.ns, link)
	}
	if got := e.vsctl(t, "port-to-br", "gw0"); got != "br-int" {
		t.Fatalf("port-to-br gw0 = %q", got)
	}
	waitFor(t, "mac_in_use of gw0 in the cache", func() bool {
		iface, ok := e.c.InterfaceByName("gw0")
		return ok && iface.MACInUse != nil && *iface.MACInUse == spec.MAC
	})
	info := findPort(t, e.c.Ports("br-int"), "gw0")
	if info.Type != InterfaceInternal || info.Ofport != 7 || info.MACInUse != spec.MAC ||
		info.ExternalIDs["switchyard/role"] != "gateway" {
		t.Fatalf("Ports() entry of gw0 = %+v", info)
	}
	if local := findPort(t, e.c.Ports("br-int"), "br-int"); local.Ofport != 65534 {
		t.Errorf("bridge's local port has ofport %d, want 65534 (LOCAL)", local.Ofport)
	}

	// Changing the spec updates the existing rows.
	spec.MTURequest = 1400
	spec.OfportRequest = 0
	if err := e.c.EnsurePort(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := e.vsctl(t, "get", "Interface", "gw0", "mtu_request", "ofport_request"); got != "1400\n[]" {
		t.Fatalf("after update: gw0 mtu_request, ofport_request = %q", got)
	}
}

func TestSystemPortForVeth(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	nettest.Run(t, "ip", "-n", e.ns, "link", "add", "veth-p1", "type", "veth", "peer", "name", "eth-p1")
	nettest.Run(t, "ip", "-n", e.ns, "link", "set", "veth-p1", "up")
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: "veth-p1", OfportRequest: 11}); err != nil {
		t.Fatal(err)
	}
	ofport, err := e.c.WaitOfport(e.ctx, "veth-p1")
	if err != nil || ofport != 11 {
		t.Fatalf("WaitOfport(veth-p1) = %d, %v; want 11", ofport, err)
	}
	if out, err := e.ovs.Ofctl(e.ctx, "show", "br-int"); err != nil || !strings.Contains(out, "11(veth-p1)") {
		t.Fatalf("ovs-ofctl show lacks 11(veth-p1): %v\n%s", err, out)
	}
}

func TestMissingDeviceFailsWaitOfport(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: "veth-gone"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	ofport, err := e.c.WaitOfport(ctx, "veth-gone")
	if err == nil {
		t.Fatalf("WaitOfport of a port without a device returned ofport %d", ofport)
	}
	if ctx.Err() != nil || !strings.Contains(err.Error(), "veth-gone") || !strings.Contains(err.Error(), "No such device") {
		t.Fatalf("WaitOfport error does not quote vswitchd's error: %v", err)
	}
	t.Logf("WaitOfport error: %v", err)
}

func TestWaitOfportTimesOutForUnknownInterface(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := e.c.WaitOfport(ctx, "nope0"); err == nil || !strings.Contains(err.Error(), "no such interface") {
		t.Fatalf("WaitOfport(nope0) error = %v, want a timeout naming the missing interface", err)
	}
}

func TestFlowBasedTunnelPorts(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	flowBased := map[string]string{"remote_ip": "flow", "key": "flow"}
	for name, typ := range map[string]string{"tun-gnv": InterfaceGeneve, "tun-vxl": InterfaceVXLAN} {
		if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: name, Type: typ, Options: flowBased}); err != nil {
			t.Fatal(err)
		}
		ofport, err := e.c.WaitOfport(e.ctx, name)
		if err != nil || ofport <= 0 {
			t.Fatalf("WaitOfport(%s) = %d, %v", name, ofport, err)
		}
		if got := e.vsctl(t, "get", "Interface", name, "type", "options"); got != typ+"\n{key=flow, remote_ip=flow}" {
			t.Fatalf("Interface %s type, options = %q", name, got)
		}
		if got := findPort(t, e.c.Ports("br-int"), name); got.Type != typ || got.Ofport != ofport {
			t.Fatalf("Ports() entry of %s = %+v", name, got)
		}
	}
}

func TestDeletePort(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	e.ensureBridge(t, "br-phy")
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: "gw0", Type: InterfaceInternal}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.DeletePort(e.ctx, "br-phy", "gw0"); err == nil || !strings.Contains(err.Error(), `bridge "br-int"`) {
		t.Fatalf("DeletePort on the wrong bridge: %v, want an error naming br-int", err)
	}
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-phy", Name: "gw0", Type: InterfaceInternal}); err == nil {
		t.Fatal("EnsurePort of a port that exists on another bridge succeeded")
	}
	for i := 0; i < 2; i++ {
		if err := e.c.DeletePort(e.ctx, "br-int", "gw0"); err != nil {
			t.Fatalf("DeletePort #%d: %v", i+1, err)
		}
	}
	if got := e.vsctl(t, "list-ports", "br-int"); got != "" {
		t.Fatalf("list-ports br-int after delete = %q", got)
	}
	for _, table := range []string{"Port", "Interface"} {
		if got := e.vsctl(t, "--bare", "--columns=name", "find", table, "name=gw0"); got != "" {
			t.Fatalf("%s row gw0 left after delete: %q", table, got)
		}
	}
	if _, ok := e.c.InterfaceByName("gw0"); ok {
		t.Fatal("cache still has interface gw0")
	}
	if len(e.c.Ports("br-int")) != 1 {
		t.Fatalf("Ports(br-int) = %+v, want only the local port", e.c.Ports("br-int"))
	}
	waitFor(t, "gw0's device to disappear", func() bool { return !nettest.LinkExistsIn(t, e.ns, "gw0") })
}

func TestPortExternalIDsRoundTrip(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	e.ensureBridge(t, "br-int")
	ids := map[string]string{"switchyard/pod": "default/web-1", "switchyard/ip": "10.244.1.2"}
	if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: "p1", Type: InterfaceInternal, ExternalIDs: ids}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.SetPortExternalIDs(e.ctx, "p1", map[string]string{"switchyard/ip": "", "switchyard/mac": "0a:58:0a:f4:01:02"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"switchyard/pod": "default/web-1", "switchyard/mac": "0a:58:0a:f4:01:02"}
	if got := findPort(t, e.c.Ports("br-int"), "p1").ExternalIDs; !maps.Equal(got, want) {
		t.Fatalf("Ports() external_ids of p1 = %v, want %v", got, want)
	}
	if got := e.vsctl(t, "get", "Port", "p1", "external_ids"); got != `{"switchyard/mac"="0a:58:0a:f4:01:02", "switchyard/pod"="default/web-1"}` {
		t.Fatalf("Port p1 external_ids in the database = %s", got)
	}
	if err := e.c.SetPortExternalIDs(e.ctx, "nope", map[string]string{"a": "b"}); err == nil {
		t.Fatal("SetPortExternalIDs of a missing port succeeded")
	}

	if err := e.c.SetBridgeExternalIDs(e.ctx, "br-int", map[string]string{"switchyard/node": "n1"}); err != nil {
		t.Fatal(err)
	}
	got := e.c.BridgeExternalIDs("br-int")
	if got["switchyard/node"] != "n1" || got["switchyard/owner"] != "test" {
		t.Fatalf("BridgeExternalIDs(br-int) = %v", got)
	}
}

func TestPortSpecValidation(t *testing.T) {
	for _, spec := range []PortSpec{
		{Name: "p"},
		{Bridge: "br"},
		{Bridge: "br", Name: "p", OfportRequest: 70000},
		{Bridge: "br", Name: "p", MTURequest: -1},
	} {
		if err := spec.validate(); err == nil {
			t.Errorf("spec %+v: no validation error", spec)
		}
	}
}

func findPort(t *testing.T, ports []PortInfo, name string) PortInfo {
	t.Helper()
	for _, p := range ports {
		if p.Name == name {
			return p
		}
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.Name + "(" + strconv.Itoa(int(p.Ofport)) + ")"
	}
	t.Fatalf("port %s not in Ports(): %v", name, names)
	return PortInfo{}
}
