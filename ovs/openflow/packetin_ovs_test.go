package openflow

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// A metered flow that sends packets to the controller: the flow dumps back as built, MonitorPacketIns receives
// the packets with the flow's table and cookie and the packet's fields, and a flood is cut to the meter's rate
// (the meter's band counts the rest). That the flow still counts every denied packet is checked in the lab
// (test/e2e/observability), with the whole pipeline.
func TestMeteredPacketInsReachTheMonitor(t *testing.T) {
	c, o := testBridge(t)
	ctx := testContext(t)
	if err := c.SetMeter(ctx, Meter{ID: 1, Rate: 5, Burst: 5}); err != nil {
		t.Fatal(err)
	}
	logged := Flow{Table: 45, Priority: 100, Cookie: 0x77, Match: "ip,in_port=11", Actions: "meter:1,CONTROLLER:128"}
	probe := Flow{Table: 45, Priority: 100, Cookie: 0x78, Match: "ip,in_port=12", Actions: "CONTROLLER:128"}
	mustBundle(t, c, addFlows(
		Flow{Table: 0, Priority: 0, Actions: "goto_table:45"}, logged, probe)...)
	for _, f := range mustDumpFlows(t, c) {
		if f.Cookie == logged.Cookie && f.Actions != logged.Actions {
			t.Fatalf("the logged drop flow dumps back as %q, built as %q", f.Actions, logged.Actions)
		}
	}

	var mu sync.Mutex
	var got []PacketIn
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.MonitorPacketIns(mctx, func(p PacketIn) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		})
	}()
	count := func(cookie uint64) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range got {
			if p.Cookie == cookie {
				n++
			}
		}
		return n
	}
	// Veth pairs s1/v1 and s2/v2 in the bridge's namespace, v1 and v2 on the bridge as ports 11 and 12 (as pods
	// are attached): s1 (10.244.1.3) and s2 (10.244.2.3) send UDP into in_port 11 and 12.
	in := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", o.Netns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	for i, side := range []struct{ addr, peer, mac string }{
		{"10.244.1.3/24", "10.244.1.2", "0a:58:0a:f4:01:02"}, {"10.244.2.3/24", "10.244.2.2", "0a:58:0a:f4:02:02"}} {
		s, v := fmt.Sprintf("s%d", i+1), fmt.Sprintf("v%d", i+1)
		in("ip", "link", "add", s, "type", "veth", "peer", "name", v)
		in("ip", "link", "set", v, "up")
		in("ip", "addr", "add", side.addr, "dev", s)
		in("ip", "link", "set", s, "up")
		in("ip", "neigh", "replace", side.peer, "lladdr", side.mac, "dev", s, "nud", "permanent")
		if err := o.Vsctl(ctx, "add-port", c.Bridge(), v, "--", "set", "interface", v, fmt.Sprintf("ofport_request=%d", 11+i)); err != nil {
			t.Fatal(err)
		}
	}
	send := func(dst string, n int) {
		script := fmt.Sprintf("for i in $(seq %d); do echo x > /dev/udp/%s/80; done", n, dst)
		if out, err := exec.Command("ip", "netns", "exec", o.Netns, "bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("sending to %s: %v: %s", dst, err, out)
		}
	}
	// The monitor is connected once an unmetered probe comes through.
	for deadline := time.Now().Add(10 * time.Second); count(probe.Cookie) == 0; {
		select {
		case err := <-done:
			t.Fatalf("MonitorPacketIns ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no packet-in reached the monitor in 10 s; flows %+v", mustDumpFlows(t, c))
		}
		send("10.244.2.2", 1)
		time.Sleep(100 * time.Millisecond)
	}

	const flood = 50
	t0 := time.Now()
	send("10.244.1.2", flood)
	took := time.Since(t0)
	time.Sleep(500 * time.Millisecond)
	n := count(logged.Cookie)
	// Burst 5 plus 5 per second of the flood.
	if limit := 5 + int(5*took.Seconds()) + 1; n < 1 || n > limit {
		t.Errorf("%d of %d packets reached the monitor in %v, want 1..%d", n, flood, took, limit)
	}
	mu.Lock()
	var first PacketIn
	for _, p := range got {
		if p.Cookie == logged.Cookie {
			first = p
			break
		}
	}
	mu.Unlock()
	if first.Table != 45 || first.Proto != "udp" || first.Fields["nw_src"] != "10.244.1.3" || first.Fields["tp_dst"] != "80" ||
		first.Metadata["in_port"] != "11" {
		t.Errorf("packet-in %+v", first)
	}
	st, err := c.DumpMeterStats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != flood || st.Dropped != uint64(flood-n) || st.FlowCount != 1 {
		t.Errorf("meter stats %+v, want %d packets, %d dropped, 1 flow", st, flood, flood-n)
	}
	// Setting the meter again (after a vswitchd restart the agent does not know whether it exists) replaces it.
	if err := c.SetMeter(ctx, Meter{ID: 1, Rate: 7, Burst: 7}); err != nil {
		t.Fatalf("setting an existing meter again: %v", err)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("MonitorPacketIns after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("MonitorPacketIns did not return after cancel")
	}
}

// The monitor's connection ends with ovs-vswitchd: MonitorPacketIns returns an error naming it.
func TestMonitorPacketInsEndsWithVswitchd(t *testing.T) {
	c, o := testBridge(t)
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() { done <- c.MonitorPacketIns(ctx, func(PacketIn) {}) }()
	time.Sleep(300 * time.Millisecond)
	if err := o.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("MonitorPacketIns returned nil after vswitchd stopped")
		}
		t.Logf("after vswitchd stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Error("MonitorPacketIns still running 10 s after vswitchd stopped")
	}
}
