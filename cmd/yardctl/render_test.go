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
	golden(t, "pods-status.golden", b.Bytes())
}
