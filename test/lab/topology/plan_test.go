package topology

import (
	"strings"
	"testing"
)

func TestPlanAddresses(t *testing.T) {
	p, err := NewPlan("lab", 3, TwoSubnets, "192.168.77.0/24", "192.168.78.0/24", "10.244.0.0/16", "10.96.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.NodeIP(1).String(); got != "192.168.77.11" {
		t.Errorf("node1 %s", got)
	}
	if got := p.NodeIP(3).String(); got != "192.168.78.13" {
		t.Errorf("node3 on the second subnet: %s", got)
	}
	if p.ControlPlaneIP().String() != "192.168.77.2" || p.ExternalIP().String() != "192.168.77.100" {
		t.Errorf("cp %s ext %s", p.ControlPlaneIP(), p.ExternalIP())
	}
	if p.NodeNS(2) != "sylab-n2" || len(p.PodNetnsPrefix(2)) > 12 {
		t.Errorf("names %s %s", p.NodeNS(2), p.PodNetnsPrefix(2))
	}
}

func TestPlanRejects(t *testing.T) {
	for _, c := range []struct {
		nodes             int
		topo, a, cl, want string
	}{
		{0, Flat, "192.168.77.0/24", "10.244.0.0/16", "--nodes"},
		{3, "mesh", "192.168.77.0/24", "10.244.0.0/16", "--topology"},
		{3, Flat, "192.168.77.0", "10.244.0.0/16", "--underlay-cidr"},
		{3, Flat, "10.244.1.0/24", "10.244.0.0/16", "overlap"},
	} {
		_, err := NewPlan("lab", c.nodes, c.topo, c.a, "192.168.78.0/24", c.cl, "10.96.0.0/16")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: want error naming %s, got %v", c, c.want, err)
		}
	}
}
