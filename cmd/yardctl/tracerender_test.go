package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/cni/api"
)

// The testdata/*.json answers were recorded with `yardctl -o json` on a two-node lab: pods x/a and x/c on node1,
// x/b (app=web) on node2 behind Service x/web, Service x/empty without endpoints, and NetworkPolicies isolating x/b
// for ingress but allowing x/c.

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestRenderTraceGolden(t *testing.T) {
	for _, name := range []string{"trace-service", "trace-policy", "trace-spoofed", "trace-refused"} {
		var p tracePath
		loadJSON(t, name+".json", &p)
		var b bytes.Buffer
		renderTrace(&b, &p, name == "trace-spoofed")
		golden(t, name+".golden", b.Bytes())
	}
}

// A Service with several endpoints: the trace says which bucket it followed and why (here the endpoint the user
// named, followed by OVS itself rather than simulated).
func TestRenderTraceNamedEndpointGolden(t *testing.T) {
	var p tracePath
	loadJSON(t, "trace-service.json", &p)
	for i := range p.Hops[0].Steps {
		p.Hops[0].Steps[i].Simulated = false
	}
	p.Hops[0].NAT = &api.ServiceNAT{Service: "x/web", Group: 1, Endpoint: "10.244.1.2:8080", Endpoints: 3, Bucket: 1, Chosen: api.ChosenNamed,
		Choices: []string{"10.244.0.7:8080", "10.244.1.2:8080", "10.244.1.9:8080"}}
	var b bytes.Buffer
	renderTrace(&b, &p, false)
	p.Hops[0].NAT.Chosen, p.Hops[0].NAT.ClientPort = api.ChosenConntrack, 51234
	renderTrace(&b, &p, false)
	b.WriteString(explainLine(&p) + "\n")
	golden(t, "trace-service-endpoint.golden", b.Bytes())
}

func TestExplainGolden(t *testing.T) {
	var b bytes.Buffer
	for _, name := range []string{"trace-service", "trace-policy", "trace-spoofed", "trace-refused"} {
		var p tracePath
		loadJSON(t, name+".json", &p)
		b.WriteString(explainLine(&p) + "\n")
	}
	golden(t, "explain.golden", b.Bytes())
}

func TestExplainLines(t *testing.T) {
	want := map[string][]string{
		"trace-service": {"delivered: ", "reaches pod x/b on node2", "Service x/web -> 10.244.1.2:8080", "allowed by policy x/allow-c ingress rule 0 on node2"},
		"trace-policy":  {"dropped: ", "on node2 in IngressRule", "pod x/b is isolated for ingress", "x/deny-b"},
		"trace-spoofed": {"dropped: ", "in SpoofGuard", "spoofed source?"},
		"trace-refused": {"refused: ", "Service x/empty has no ready endpoint"},
	}
	for name, parts := range want {
		var p tracePath
		loadJSON(t, name+".json", &p)
		line := explainLine(&p)
		for _, w := range parts {
			if !strings.Contains(line, w) {
				t.Errorf("%s: explain %q lacks %q", name, line, w)
			}
		}
		if strings.Contains(line, "\n") {
			t.Errorf("%s: explain is not one line: %q", name, line)
		}
	}
}

func TestRenderNodesGolden(t *testing.T) {
	var nl api.NodeList
	loadJSON(t, "nodes.json", &nl)
	var b bytes.Buffer
	renderNodes(&b, &nl)
	renderNodes(&b, &api.NodeList{Node: "solo", TrafficMode: "noEncap", PodCIDR: "10.244.9.0/24"})
	renderNodes(&b, &api.NodeList{Node: "node1", TrafficMode: "hybrid", TunnelType: "vxlan", TransportIP: "192.168.77.11",
		PodCIDR: "10.244.0.0/24", Peers: []api.PeerNode{
			{Name: "node2", TransportIP: "192.168.77.12", PodCIDRs: []string{"10.244.1.0/24"}, Mode: "direct"},
			{Name: "node3", TransportIP: "192.168.78.13", PodCIDRs: []string{"10.244.2.0/24", "10.244.3.0/24"}, Mode: "encap", Tunnel: "vxlan"}}})
	golden(t, "nodes.golden", b.Bytes())
}

func TestSplitPortAndSockets(t *testing.T) {
	if n, p, err := splitPort("x/web:80"); n != "x/web" || p != 80 || err != nil {
		t.Errorf("splitPort: %q %d %v", n, p, err)
	}
	if n, p, err := splitPort("10.0.0.1"); n != "10.0.0.1" || p != 0 || err != nil {
		t.Errorf("splitPort without a port: %q %d %v", n, p, err)
	}
	if _, _, err := splitPort("x/web:http"); err == nil {
		t.Error("a named port must be an error")
	}
	o := traceOpts{socketTemplate: "/tmp/lab/nodes/{node}/run/agent.sock", nodeSockets: map[string]string{"node3": "/run/n3.sock"}}
	if s, ok := o.socketFor("node2"); !ok || s != "/tmp/lab/nodes/node2/run/agent.sock" {
		t.Errorf("template: %q %v", s, ok)
	}
	if s, ok := o.socketFor("node3"); !ok || s != "/run/n3.sock" {
		t.Errorf("map: %q %v", s, ok)
	}
	if _, ok := (&traceOpts{}).socketFor("node2"); ok {
		t.Error("no template and no map: the node is not reachable")
	}
}
