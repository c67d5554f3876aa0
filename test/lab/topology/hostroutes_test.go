package topology

import (
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// The lab refuses ranges that overlap a route of the namespace it is started from. The check runs inside a
// scratch namespace standing in for the host, with a route into 10.244.5.0/24.
func TestCheckHostRoutesRefusesOverlap(t *testing.T) {
	nettest.RequireRoot(t)
	host := nettest.NewNetns(t, "host")
	nettest.Run(t, "ip", "-n", host, "link", "add", "h0", "type", "veth", "peer", "name", "h1")
	nettest.Run(t, "ip", "-n", host, "addr", "add", "10.244.5.1/24", "dev", "h0")
	nettest.Run(t, "ip", "-n", host, "link", "set", "h0", "up")
	nettest.Run(t, "ip", "-n", host, "link", "set", "h1", "up")

	check := func(cluster string) error {
		p, err := NewPlan("t", 2, Flat, "192.168.77.0/24", "192.168.78.0/24", cluster, "10.96.0.0/16")
		if err != nil {
			t.Fatal(err)
		}
		var res error
		if err := ns.WithNetNSPath("/run/netns/"+host, func(ns.NetNS) error { res = CheckHostRoutes(p); return nil }); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if err := check("10.244.0.0/16"); err == nil || !strings.Contains(err.Error(), "10.244.5.0/24") {
		t.Errorf("overlapping cluster CIDR: want an error naming the host route, got %v", err)
	}
	if err := check("10.200.0.0/16"); err != nil {
		t.Errorf("disjoint ranges refused: %v", err)
	}
}
