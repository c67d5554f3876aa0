package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/yardctl -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// sampleFlows is a node's pipeline flows plus one pod's, as the agent reports them.
func sampleFlows() *api.FlowList {
	mac := "0a:58:0a:f4:00:03"
	fl := &api.FlowList{Node: "node1", Bridge: "br-int", Round: 2}
	add := func(t flows.Table, prio uint16, match, actions, kind, owner string, pkts uint64) {
		fl.Flows = append(fl.Flows, api.FlowEntry{Table: t.ID, TableName: t.Name, Priority: prio, Match: match,
			Actions: actions, Packets: pkts, OwnerKind: kind, Owner: owner})
	}
	pod := "default/web-1/eth0@3f2a9c1b2d4e"
	add(flows.Classifier, 0, "", "drop", "Pipeline", "node", 0)
	add(flows.Classifier, 190, "in_port=5", flows.FromPod.Load()+",goto_table:10", "Pod", pod, 42)
	add(flows.SpoofGuard, 200, "ip,in_port=5,dl_src="+mac+",nw_src=10.244.0.3", "goto_table:30", "Pod", pod, 40)
	add(flows.L2ForwardingCalc, 200, "dl_dst="+mac, flows.TargetOFPortField.Load(5)+","+flows.OutputReady.Load()+",goto_table:80", "Pod", pod, 38)
	add(flows.Output, 200, flows.OutputReady.Match(), "output:NXM_NX_REG1[]", "Pipeline", "node", 120)
	add(flows.Conntrack, 200, "ip", "ct(table=31,zone=65520,nat)", "Pipeline", "node", 130)
	add(flows.Classifier, 0, "in_port=99", "drop", "", "", 0)
	return fl
}

func TestRenderFlowsGolden(t *testing.T) {
	var b bytes.Buffer
	renderFlows(&b, sampleFlows())
	golden(t, "flows.golden", b.Bytes())
}

func TestFlowFilter(t *testing.T) {
	all := sampleFlows().Flows
	cases := []struct {
		f    flowFilter
		want int
	}{
		{flowFilter{pod: "default/web-1"}, 3},
		{flowFilter{pod: "default/web"}, 0},
		{flowFilter{table: "Classifier"}, 3},
		{flowFilter{table: "10"}, 1},
		{flowFilter{table: "SpoofGuard", pod: "default/web-1"}, 1},
		{flowFilter{service: "default/web"}, 0},
	}
	for _, c := range cases {
		got, err := c.f.apply(all)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("%+v: %d flows, want %d", c.f, len(got), c.want)
		}
	}
	if _, err := (flowFilter{table: "Nope"}).apply(all); err == nil {
		t.Error("an unknown table must be an error naming the tables")
	}
}

func TestRenderPodsAndStatusGolden(t *testing.T) {
	var b bytes.Buffer
	renderPods(&b, []api.Attachment{{PodNamespace: "default", PodName: "web-1", PodIfName: "eth0", IPCIDR: "10.244.0.3/24",
		PodMAC: "0a:58:0a:f4:00:03", HostIfName: "sy3f2a9c1b2d4e", OFPort: 5}, {ContainerID: "standalone1", PodIfName: "eth0",
		IPCIDR: "10.244.0.4/24", PodMAC: "0a:58:0a:f4:00:04", HostIfName: "sy000000000001", OFPort: 6}})
	b.WriteString("---\n")
	renderStatus(&b, api.Status{Ready: true, Node: "node1", PodCIDR: "10.244.0.0/24", Bridge: "br-int", Datapath: "netdev", LocalPods: 2, Flows: 40})
	renderStatus(&b, api.Status{Ready: false, Reason: "reconciling flows", Node: "node1", Bridge: "br-int", Datapath: "netdev"})
	b.WriteString("---\n")
	renderStatus(&b, api.Status{Ready: true, Node: "node1", PodCIDR: "10.244.0.0/24", Bridge: "br-int", Datapath: "netdev", LocalPods: 2, Flows: 40,
		Detail: &api.StatusDetail{OVSDB: true, OpenFlow: false, KubeAPI: "ok", RemoteAPI: "https://192.168.77.11:10351", Peers: 2, Services: 3, Policies: 1,
			FlowsPerTable: map[string]uint64{"Classifier": 5, "SpoofGuard": 4, "Output": 3}}})
	golden(t, "pods-status.golden", b.Bytes())
}

func TestRenderServicesGolden(t *testing.T) {
	sl := &api.ServiceList{Node: "node1", Services: []api.ServiceInfo{
		{Name: "kube-system/dns", Ignored: "headless"},
		{Name: "x/empty", Rejected: []string{"10.96.0.12 tcp/80"}},
		{Name: "x/lb", Flows: 3, LoadBalancers: []api.LoadBalancerInfo{{Group: 7, Protocol: "tcp", InOVS: true,
			Entries: []string{"192.0.2.7:80 (SNAT)", "nodePort 30080 (SNAT)"}, Endpoints: []api.EndpointInfo{}}}},
		{Name: "x/web", Flows: 6, Packets: 12, LoadBalancers: []api.LoadBalancerInfo{
			{Group: 1, Protocol: "tcp", InOVS: true, Entries: []string{"10.96.176.167:80"}, Endpoints: []api.EndpointInfo{
				{Address: "10.244.0.5:8080", Local: true, Pod: "x/b"}, {Address: "10.244.1.2:8080"}}},
			{Group: 2, Protocol: "udp", AffinitySeconds: 10800, Entries: []string{"10.96.176.167:53"}, Endpoints: []api.EndpointInfo{
				{Address: "10.244.1.2:53"}}}}},
	}}
	var b bytes.Buffer
	renderServices(&b, sl)
	golden(t, "services.golden", b.Bytes())
}

func TestRenderPoliciesGolden(t *testing.T) {
	pl := &api.PolicyList{Node: "node2", Policies: []api.PolicyInfo{
		{Name: "x/deny-all", Isolates: []api.IsolatedPod{{Pod: "x/b", Direction: "ingress", Denied: 3},
			{Pod: "x/b", Direction: "egress", Denied: 1}}, Rules: []api.PolicyRule{}},
		{Name: "x/only-friend", Isolates: []api.IsolatedPod{{Pod: "x/b", Direction: "ingress", Denied: 3}},
			Rules: []api.PolicyRule{
				{Direction: "ingress", Index: 0, Peers: []string{"pods ns=x {app=friend} (1 address)"}, Ports: []string{"TCP/8080", "TCP/http (named, 2 pod ports)"}},
				{Direction: "egress", Index: 0, Peers: []string{"any"}, Ports: []string{"any"}}},
			Warnings: []string{"ingress[0]: named port TCP/http resolves to no pod (named-port pods ns=x {app=friend} TCP/http)"}},
	}}
	var b bytes.Buffer
	renderPolicies(&b, pl, 2)
	golden(t, "policies.golden", b.Bytes())
}

func TestSelects(t *testing.T) {
	for _, c := range []struct {
		want, key string
		ok        bool
	}{{"x", "x/web", true}, {"x/web", "x/web", true}, {"x/we", "x/web", false}, {"xy", "x/web", false}, {"y", "x/web", false}} {
		if got := selects(c.want, c.key); got != c.ok {
			t.Errorf("selects(%q, %q) = %v, want %v", c.want, c.key, got, c.ok)
		}
	}
}
