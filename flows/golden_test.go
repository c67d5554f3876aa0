package flows

import (
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// A node 10.244.1.0/24 with its gateway on port 2 and two pods on ports 10 and 11, laid out
// like the reference lab's node 1.
var (
	testNode = NodeConfig{
		GatewayOFPort: 2,
		GatewayMAC:    mustMAC("0A:58:0A:F4:01:01"), // upper case on purpose: flows print lower case
		GatewayIP:     net.ParseIP("10.244.1.1"),
		PodCIDR:       mustCIDR("10.244.1.0/24"),
		CTZone:        DefaultCTZone,
	}
	testPod1 = PodSpec{OFPort: 10, MAC: mustMAC("0a:58:0a:f4:01:02"), IP: net.ParseIP("10.244.1.2")}
	testPod2 = PodSpec{OFPort: 11, MAC: mustMAC("0a:58:0a:f4:01:03"), IP: net.ParseIP("10.244.1.3")}
	// Peers like the reference lab's nodes 2 (through the tunnel on port 1) and 3 (direct, with
	// two pod CIDRs).
	testPeerTunnel = PeerSpec{NodeIP: net.ParseIP("192.168.77.12"), PodCIDRs: []*net.IPNet{mustCIDR("10.244.2.0/24")},
		Tunnel: true, TunnelOFPort: 1}
	testPeerDirect = PeerSpec{NodeIP: net.ParseIP("192.168.77.13"),
		PodCIDRs: []*net.IPNet{mustCIDR("10.244.3.0/24"), mustCIDR("10.244.103.0/24")}}
)

func mustMAC(s string) net.HardwareAddr {
	mac, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return mac
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// flowLine renders a flow in ovs-ofctl flow syntax, as in a flow file or a bundle line.
func flowLine(f openflow.Flow) string {
	line := f.Key()
	line = strings.TrimSuffix(line, ",")
	return line + ",actions=" + f.Actions
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name  string
		flows []openflow.Flow
	}{
		{"pipeline", PipelineFlows(testNode)},
		{"pod", PodFlows(testNode, testPod1)},
		{"tunnel", TunnelPortFlows(testNode, 1)},
		{"peer-tunnel", PeerFlows(testNode, testPeerTunnel)},
		{"peer-direct", PeerFlows(testNode, testPeerDirect)},
		{"virtualarp", VirtualARPFlows(net.ParseIP("10.244.2.1"), mustMAC("aa:bb:cc:dd:ee:ff"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGolden(t, c.name, nil, c.flows) })
	}
}

// checkGolden compares the groups and flows, one line each, with testdata/<name>.golden (rewritten with -update).
func checkGolden(t *testing.T, name string, groups []openflow.Group, flows []openflow.Flow) {
	t.Helper()
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(groupLine(g) + "\n")
	}
	for _, f := range flows {
		b.WriteString(flowLine(f) + "\n")
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./flows -update to create it): %v", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("flows differ from %s (run go test ./flows -update and review the diff)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// Every table has a default flow in PipelineFlows, and no flow uses a table that is not declared.
func TestPipelineHasDefaultFlowPerTable(t *testing.T) {
	defaults := map[uint8]bool{}
	pipeline := append(PipelineFlows(testNode), ServicePipelineFlows(ServiceConfig{Node: testNode, SNATZone: DefaultSNATCTZone})...)
	for _, f := range pipeline {
		if _, ok := TableByID(f.Table); !ok {
			t.Errorf("flow %s is in undeclared table %d", f.Key(), f.Table)
		}
		if f.Priority == 0 {
			if f.Match != "" {
				t.Errorf("default flow %s has a match", f.Key())
			}
			defaults[f.Table] = true
		}
	}
	for _, table := range Tables() {
		if !defaults[table.ID] {
			t.Errorf("table %d %s has no default (priority 0) flow", table.ID, table.Name)
		}
	}
}

// The flows of a node and two pods can live in one bridge: no two share a key.
func TestNodeAndPodFlowsHaveDistinctKeys(t *testing.T) {
	seen := map[string]bool{}
	all := append(PipelineFlows(testNode), PodFlows(testNode, testPod1)...)
	all = append(all, PodFlows(testNode, testPod2)...)
	all = append(all, TunnelPortFlows(testNode, 1)...)
	all = append(all, PeerFlows(testNode, testPeerTunnel)...)
	all = append(all, PeerFlows(testNode, testPeerDirect)...)
	for _, f := range all {
		if seen[f.Key()] {
			t.Errorf("two flows with key %s", f.Key())
		}
		seen[f.Key()] = true
	}
}
