package ovsdb

import (
	"fmt"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// benchPorts is how many ports the bridge holds while a benchmark measures: a node with 100 pods.
const benchPorts = 100

// newPortBench returns an env whose br-int holds benchPorts veth ports, and one more veth, "vbench", not on it.
func newPortBench(b *testing.B) *env {
	e := newEnv(b, privateovs.Options{})
	e.ensureBridge(b, "br-int")
	for i := range benchPorts {
		name := fmt.Sprintf("vb%d", i)
		nettest.Run(b, "ip", "-n", e.ns, "link", "add", name, "type", "veth", "peer", "name", fmt.Sprintf("eb%d", i))
		if err := e.c.EnsurePort(e.ctx, PortSpec{Bridge: "br-int", Name: name, OfportRequest: 10 + i,
			ExternalIDs: map[string]string{"pod": fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	nettest.Run(b, "ip", "-n", e.ns, "link", "add", "vbench", "type", "veth", "peer", "name", "ebench")
	if err := e.c.WaitVswitchd(e.ctx); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkEnsurePort adds a pod's port to a bridge of benchPorts ports (the transaction and the wait for the
// cache to show it; not vswitchd's reconfiguration), as a CNI ADD does. Deleting it again is not timed.
func BenchmarkEnsurePort(b *testing.B) {
	e := newPortBench(b)
	spec := PortSpec{Bridge: "br-int", Name: "vbench", OfportRequest: 10 + benchPorts,
		ExternalIDs: map[string]string{"pod": "bench"}}
	for b.Loop() {
		if err := e.c.EnsurePort(e.ctx, spec); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := e.c.DeletePort(e.ctx, "br-int", "vbench"); err != nil {
			b.Fatal(err)
		}
		if err := e.c.WaitVswitchd(e.ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkEnsurePortUnchanged plans an EnsurePort whose port is already as specified: the cache reads alone
// (bridge, port, interface), which every EnsurePort makes twice.
func BenchmarkEnsurePortUnchanged(b *testing.B) {
	e := newPortBench(b)
	spec := PortSpec{Bridge: "br-int", Name: "vb50", OfportRequest: 60, ExternalIDs: map[string]string{"pod": "50"}}
	for b.Loop() {
		if err := e.c.EnsurePort(e.ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}
