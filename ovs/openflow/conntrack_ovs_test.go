package openflow

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// FlushConntrack removes, in its zone, the entries of one address only: as source, as destination, and as the
// reply's source of a DNATed connection. Entries are made by real packets: the bridge commits everything that
// p1's stack sends (10.9.0.1 to .5, .6 and, DNATed to .7, 10.96.0.10) in zones 7 and 8.
func TestFlushConntrackRemovesOneAddress(t *testing.T) {
	c, o := testBridge(t)
	ctx := testContext(t)
	mustBundle(t, c, addFlows(
		Flow{Table: 0, Priority: 200, Match: "ip,nw_dst=10.96.0.10", Actions: "ct(commit,zone=7,nat(dst=10.9.0.7))"},
		Flow{Table: 0, Priority: 100, Match: "ip", Actions: "ct(commit,zone=7),ct(commit,zone=8)"},
	)...)
	in := func(args ...string) {
		t.Helper()
		if out, err := nettest.InNetns(o.Netns, args[0], args[1:]...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	in("ip", "addr", "add", "10.9.0.1/24", "dev", "p1")
	in("ip", "link", "set", "p1", "up")
	in("ip", "route", "add", "10.96.0.0/16", "dev", "p1")
	for _, ip := range []string{"10.9.0.5", "10.9.0.6", "10.96.0.10"} {
		in("ip", "neigh", "replace", ip, "lladdr", "02:00:00:00:00:09", "dev", "p1", "nud", "permanent")
	}
	entries := func(zone string) []string {
		t.Helper()
		out, err := c.appctl(ctx, "dpctl/dump-conntrack", "zone="+zone)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "udp") {
				got = append(got, l)
			}
		}
		return got
	}
	mentions := func(es []string, ip string) bool {
		for _, e := range es {
			if strings.Contains(e, "="+ip+",") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		for _, dst := range []string{"10.9.0.5", "10.9.0.6", "10.96.0.10"} {
			in("bash", "-c", "echo x > /dev/udp/"+dst+"/9")
		}
		z7, z8 := entries("7"), entries("8")
		if mentions(z7, "10.9.0.5") && mentions(z7, "10.9.0.6") && mentions(z7, "10.9.0.7") && mentions(z8, "10.9.0.5") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the packets made no conntrack entries:\nzone 7:\n%s\nzone 8:\n%s", strings.Join(z7, "\n"), strings.Join(z8, "\n"))
		}
	}

	for _, ip := range []string{"10.9.0.5", "10.9.0.7"} {
		if err := c.FlushConntrack(ctx, net.ParseIP(ip), 7); err != nil {
			t.Fatalf("flushing %s: %v", ip, err)
		}
	}
	z7, z8 := entries("7"), entries("8")
	for _, ip := range []string{"10.9.0.5", "10.9.0.7"} {
		if mentions(z7, ip) {
			t.Errorf("zone 7 still has entries of %s after its flush:\n%s", ip, strings.Join(z7, "\n"))
		}
	}
	if !mentions(z7, "10.9.0.6") {
		t.Errorf("flushing other addresses removed 10.9.0.6's entry from zone 7:\n%s", strings.Join(z7, "\n"))
	}
	if !mentions(z8, "10.9.0.5") {
		t.Errorf("flushing zone 7 removed 10.9.0.5's entry from zone 8:\n%s", strings.Join(z8, "\n"))
	}

	// Several zones at once (one batch of commands).
	if err := c.FlushConntrack(ctx, net.ParseIP("10.9.0.6"), 7, 8); err != nil {
		t.Fatalf("flushing 10.9.0.6 in zones 7 and 8: %v", err)
	}
	z7, z8 = entries("7"), entries("8")
	if mentions(z7, "10.9.0.6") || mentions(z8, "10.9.0.6") {
		t.Errorf("10.9.0.6 still has entries after its flush in zones 7 and 8:\nzone 7:\n%s\nzone 8:\n%s",
			strings.Join(z7, "\n"), strings.Join(z8, "\n"))
	}
	if !mentions(z8, "10.9.0.5") {
		t.Errorf("flushing 10.9.0.6 removed 10.9.0.5's entry from zone 8:\n%s", strings.Join(z8, "\n"))
	}
}
