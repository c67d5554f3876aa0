package agent

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, c, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testNode is node1 of a two-node encap lab: pods x/a (port 3) and x/c (port 4), peer node2.
func testNode(t *testing.T) *traceNode {
	return &traceNode{Name: "node1", GatewayPort: 2, GatewayIP: net.ParseIP("10.244.0.1").To4(),
		GatewayMAC: mustMAC(t, "0a:58:0a:f4:00:01"), PodCIDR: mustCIDR(t, "10.244.0.0/24"), TunnelPort: 1,
		TunnelType: "geneve", TransportIP: net.ParseIP("192.168.77.11").To4(), ServiceCIDR: mustCIDR(t, "10.96.0.0/16"),
		Pods: []tracePort{
			{Pod: "x/a", IP: net.ParseIP("10.244.0.2").To4(), MAC: mustMAC(t, "0a:58:0a:f4:00:02"), OFPort: 3},
			{Pod: "x/c", IP: net.ParseIP("10.244.0.3").To4(), MAC: mustMAC(t, "0a:58:0a:f4:00:03"), OFPort: 4},
		},
		Peers: []tracePeer{{Name: "node2", NodeIP: net.ParseIP("192.168.77.12").To4(),
			PodCIDRs: []*net.IPNet{mustCIDR(t, "10.244.1.0/24")}, Encap: true}},
	}
}

func TestBuildPacket(t *testing.T) {
	n := testNode(t)
	cases := []struct {
		name     string
		req      api.TraceRequest
		flow     string
		from     string
		errorHas string
	}{
		{"pod to remote pod: to the gateway MAC", api.TraceRequest{Src: "10.244.0.2", Dst: "10.244.1.2", Proto: "tcp", DPort: 8080},
			"in_port=3,dl_src=0a:58:0a:f4:00:02,dl_dst=0a:58:0a:f4:00:01,tcp,nw_src=10.244.0.2,nw_dst=10.244.1.2,nw_ttl=64,tp_src=43210,tp_dst=8080",
			"pod x/a (port 3)", ""},
		{"pod to local pod: to its MAC", api.TraceRequest{Src: "10.244.0.2", Dst: "10.244.0.3", Proto: "udp", DPort: 53},
			"in_port=3,dl_src=0a:58:0a:f4:00:02,dl_dst=0a:58:0a:f4:00:03,udp,nw_src=10.244.0.2,nw_dst=10.244.0.3,nw_ttl=64,tp_src=43210,tp_dst=53",
			"pod x/a (port 3)", ""},
		{"pod to Service: to the gateway MAC", api.TraceRequest{Src: "10.244.0.3", Dst: "10.96.0.10", Proto: "icmp"},
			"in_port=4,dl_src=0a:58:0a:f4:00:03,dl_dst=0a:58:0a:f4:00:01,icmp,nw_src=10.244.0.3,nw_dst=10.96.0.10,nw_ttl=64,icmp_type=8,icmp_code=0",
			"pod x/c (port 4)", ""},
		{"from the tunnel", api.TraceRequest{Src: "10.244.1.2", Dst: "10.244.0.2", Proto: "tcp", DPort: 80, InPort: api.InPortTunnel, TunSrc: "192.168.77.12"},
			"in_port=1,tun_src=192.168.77.12,tun_dst=192.168.77.11,tun_id=0,dl_src=0a:58:0a:f4:01:01,dl_dst=aa:bb:cc:dd:ee:ff,tcp,nw_src=10.244.1.2,nw_dst=10.244.0.2,nw_ttl=63,tp_src=43210,tp_dst=80",
			"the tunnel from node node2", ""},
		{"host to remote pod (encap): to the virtual MAC", api.TraceRequest{Src: "10.244.0.1", Dst: "10.244.1.2", Proto: "tcp", DPort: 80},
			"in_port=2,dl_src=0a:58:0a:f4:00:01,dl_dst=aa:bb:cc:dd:ee:ff,tcp,nw_src=10.244.0.1,nw_dst=10.244.1.2,nw_ttl=64,tp_src=43210,tp_dst=80",
			"the host (gateway port 2)", ""},
		{"host to local pod", api.TraceRequest{Src: "192.168.77.11", Dst: "10.244.0.3", Proto: "tcp", DPort: 80, InPort: api.InPortGateway},
			"in_port=2,dl_src=0a:58:0a:f4:00:01,dl_dst=0a:58:0a:f4:00:03,tcp,nw_src=192.168.77.11,nw_dst=10.244.0.3,nw_ttl=64,tp_src=43210,tp_dst=80",
			"the host (gateway port 2)", ""},
		{"spoofed source from port 3", api.TraceRequest{Src: "10.244.0.9", Dst: "10.244.0.3", Proto: "tcp", DPort: 80, InPort: "3"},
			"in_port=3,dl_src=0a:58:0a:f4:00:02,dl_dst=0a:58:0a:f4:00:03,tcp,nw_src=10.244.0.9,nw_dst=10.244.0.3,nw_ttl=64,tp_src=43210,tp_dst=80",
			"pod x/a (port 3), with source 10.244.0.9 instead of its own 10.244.0.2", ""},
		{"a source on another node", api.TraceRequest{Src: "10.244.1.2", Dst: "10.244.0.3", Proto: "icmp"}, "", "", "not a pod on node node1"},
		{"an unknown port", api.TraceRequest{Src: "10.244.0.2", Dst: "10.244.0.3", Proto: "icmp", InPort: "9"}, "", "", "not a pod port"},
	}
	for _, c := range cases {
		p, from, err := buildPacket(c.req, n)
		if c.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errorHas) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.errorHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := p.flowText(); got != c.flow {
			t.Errorf("%s:\n got  %s\n want %s", c.name, got, c.flow)
		}
		if from != c.from {
			t.Errorf("%s: from %q, want %q", c.name, from, c.from)
		}
	}
}

// testOwners names the cookies of the recorded traces (the lab's store at the time).
func testOwners(t *testing.T, keys map[uint64]string) func(uint64) stepOwner {
	return func(cookie uint64) stepOwner {
		_, cat, id := flows.ParseCookie(cookie)
		if k, ok := keys[id]; ok {
			return stepOwner{Kind: cat.String(), Key: k}
		}
		return stepOwner{}
	}
}

// readRecorded describes a recorded ofproto/trace of the lab and returns its steps and verdict.
func readRecorded(t *testing.T, n *traceNode, file string, req api.TraceRequest, owners func(uint64) stepOwner) ([]api.TraceStep, api.TraceVerdict) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := openflow.ParseTrace(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var steps []openflow.TraceStep
	for _, s := range tr.Steps {
		if s.Bridge == "br-int" {
			steps = append(steps, s)
		}
	}
	var out []api.TraceStep
	for _, s := range steps {
		out = append(out, n.describeStep(s, owners(s.Cookie)))
	}
	pkt, _, err := buildPacket(req, n)
	if err != nil {
		t.Fatal(err)
	}
	return out, n.verdict(req, pkt, steps, out, tr.Dropped())
}

func saysOf(steps []api.TraceStep) map[string]string {
	m := map[string]string{}
	for _, s := range steps {
		m[s.TableName] = s.Says
	}
	return m
}

func TestReadTraceIntoTunnel(t *testing.T) {
	n := testNode(t)
	req := api.TraceRequest{Src: "10.244.0.2", Dst: "10.244.1.2", Proto: "tcp", DPort: 8080}
	steps, v := readRecorded(t, n, "trace-tunnel.txt", req, testOwners(t, map[uint64]string{2: "x/a/eth0@e8bc3199a99b", 3: "node", 5: "node2", 6: "services"}))
	says := saysOf(steps)
	for table, want := range map[string]string{
		"SpoofGuard":   "from pod x/a",
		"L3Forwarding": "to node node2 via geneve (tun_dst 192.168.77.12)",
		"Output":       "to the tunnel (port 1)",
	} {
		if says[table] != want {
			t.Errorf("%s says %q, want %q", table, says[table], want)
		}
	}
	if v.Kind != api.VerdictTunnel || v.Node != "node2" || v.Next == nil {
		t.Fatalf("verdict %+v", v)
	}
	want := api.TraceRequest{Src: "10.244.0.2", Dst: "10.244.1.2", Proto: "tcp", DPort: 8080, InPort: api.InPortTunnel, TunSrc: "192.168.77.11"}
	if v.Next.Request != want || v.Next.NodeIP != "192.168.77.12" {
		t.Errorf("next hop %+v, want %+v", v.Next, want)
	}
}

func TestReadTracePolicyDropAndSpoof(t *testing.T) {
	node2 := testNode(t)
	node2.Name, node2.PodCIDR, node2.TransportIP = "node2", mustCIDR(t, "10.244.1.0/24"), net.ParseIP("192.168.77.12").To4()
	node2.GatewayIP, node2.GatewayMAC = net.ParseIP("10.244.1.1").To4(), mustMAC(t, "0a:58:0a:f4:01:01")
	node2.Pods = []tracePort{{Pod: "x/b", IP: net.ParseIP("10.244.1.2").To4(), MAC: mustMAC(t, "0a:58:0a:f4:01:02"), OFPort: 3}}
	node2.Peers = []tracePeer{{Name: "node1", NodeIP: net.ParseIP("192.168.77.11").To4(), PodCIDRs: []*net.IPNet{mustCIDR(t, "10.244.0.0/24")}, Encap: true}}
	req := api.TraceRequest{Src: "10.244.0.2", Dst: "10.244.1.2", Proto: "tcp", DPort: 8080, InPort: api.InPortTunnel, TunSrc: "192.168.77.11"}
	steps, v := readRecorded(t, node2, "trace-policy-drop.txt", req,
		testOwners(t, map[uint64]string{1: "x/b/eth0@68c4", 2: "node", 3: "tunnel", 5: "services", 8: "pod:x/b"}))
	if says := saysOf(steps); says["L3Forwarding"] != "from the tunnel to pod x/b" || says["L2ForwardingCalc"] != "to pod x/b (port 3)" {
		t.Errorf("steps: %+v", says)
	}
	if v.Kind != api.VerdictDropped || v.Table != "IngressRule" || v.Decider != "Policy pod:x/b" ||
		!strings.Contains(v.Reason, "pod x/b is isolated for ingress") {
		t.Errorf("verdict %+v", v)
	}

	n := testNode(t)
	spoof := api.TraceRequest{Src: "10.244.0.9", Dst: "10.244.0.3", Proto: "tcp", DPort: 8080, InPort: "3"}
	_, v = readRecorded(t, n, "trace-spoofed.txt", spoof, testOwners(t, map[uint64]string{2: "x/a/eth0@e8bc", 3: "node"}))
	if v.Kind != api.VerdictDropped || v.Table != "SpoofGuard" || !strings.Contains(v.Reason, "spoofed source?") {
		t.Errorf("spoofed: verdict %+v", v)
	}
}

func TestChooseBucket(t *testing.T) {
	bs := []bucket{{ip: net.ParseIP("10.244.0.7").To4(), port: 8080}, {ip: net.ParseIP("10.244.1.2").To4(), port: 8080},
		{ip: net.ParseIP("10.244.1.2").To4(), port: 9090}}
	for _, c := range []struct {
		endpoint string
		want     int
	}{{"", 0}, {"10.244.1.2", 1}, {"10.244.1.2:9090", 2}, {"10.244.0.7:8080", 0}} {
		if got, err := chooseBucket(bs, c.endpoint); err != nil || got != c.want {
			t.Errorf("%q: bucket %d (%v), want %d", c.endpoint, got, err, c.want)
		}
	}
	_, err := chooseBucket(bs, "10.244.9.9")
	if err == nil || !strings.Contains(err.Error(), "10.244.0.7:8080, 10.244.1.2:8080, 10.244.1.2:9090") {
		t.Errorf("an endpoint that is no bucket: %v", err)
	}
}

func TestReachesBucket(t *testing.T) {
	b := bucket{ipHex: "af40102", portHex: "1f90"}
	hit := []openflow.TraceStep{{Table: flows.ServiceLB.ID}, {Table: flows.EndpointDNAT.ID, Depth: 1,
		Match: "tcp,reg3=0xaf40102,reg4=0x1f90/0xffff,reg5=0x1"}}
	if !reachesBucket(hit, b) {
		t.Error("the bucket's EndpointDNAT flow was matched")
	}
	other := []openflow.TraceStep{{Table: flows.EndpointDNAT.ID, Match: "tcp,reg3=0xaf401021,reg4=0x1f90/0xffff,reg5=0x1"}}
	if reachesBucket(other, b) || reachesBucket(hit[:1], b) {
		t.Error("another endpoint's flow, or none, is not the bucket")
	}
}

// Policy flows are owned by what they match (agent/networkpolicy/owners.go): a conjunction's conj_id flow by
// "conj:<id>", which allows; a pod's default drop by "pod:<ns>/<name>".
func TestPolicyWords(t *testing.T) {
	pass := openflow.TraceStep{Table: flows.IngressRule.ID, Match: "conj_id=7,ip", Actions: []openflow.TraceAction{{Text: "goto_table:60"}}}
	drop := openflow.TraceStep{Table: flows.IngressRule.ID, Actions: []openflow.TraceAction{{Text: "drop"}}}
	for _, c := range []struct {
		s     openflow.TraceStep
		owner string
		want  string
	}{
		{pass, "conj:7", "allowed by a NetworkPolicy rule (ingress conjunction 7)"},
		{drop, "pod:x/b", "dropped: pod x/b is isolated for ingress and no NetworkPolicy rule allows this connection"},
		{pass, "pod:x/b", "allowed: a NetworkPolicy rule allows every ingress connection of pod x/b"},
		{pass, "addr:10.244.0.4/32", "ingress clause of NetworkPolicy rules (Policy addr:10.244.0.4/32)"},
	} {
		if got := policyWords(flows.IngressRule, c.s, stepOwner{Kind: flows.Policy.String(), Key: c.owner}); got != c.want {
			t.Errorf("%s: %q, want %q", c.owner, got, c.want)
		}
	}
}
