package flows

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// testServices is the node of testNode with the Service SNAT zone.
var testServices = ServiceConfig{Node: testNode, SNATZone: DefaultSNATCTZone}

// Load balancers of the golden files: a ClusterIP with TCP and UDP on port 53 (one local and one
// remote endpoint), and a NodePort Service with session affinity whose ClusterIP and NodePort
// share the group, the NodePort with SNAT (externalTrafficPolicy Cluster).
var (
	testDNSTCP = LoadBalancer{ID: 1, Protocol: TCP,
		Entries:   []ServiceEntry{{IP: net.ParseIP("10.96.0.10"), Port: 53}},
		Endpoints: []ServiceEndpoint{{IP: net.ParseIP("10.244.1.2"), Port: 5353, Local: true}, {IP: net.ParseIP("10.244.2.2"), Port: 5353}}}
	testDNSUDP = LoadBalancer{ID: 2, Protocol: UDP,
		Entries:   []ServiceEntry{{IP: net.ParseIP("10.96.0.10"), Port: 53}},
		Endpoints: []ServiceEndpoint{{IP: net.ParseIP("10.244.1.2"), Port: 5353, Local: true}, {IP: net.ParseIP("10.244.2.2"), Port: 5353}}}
	testWebAffinity = LoadBalancer{ID: 3, Protocol: TCP, AffinityTimeout: 10800,
		Entries: []ServiceEntry{{IP: net.ParseIP("10.96.0.20"), Port: 80},
			{IP: VirtualNodePortIP, Port: 30080, NeedSNAT: true}},
		Endpoints: []ServiceEndpoint{{IP: net.ParseIP("10.244.1.3"), Port: 8080, Local: true}}}
	// externalTrafficPolicy Local on a node without a local endpoint: the group drops.
	testLocalNone = LoadBalancer{ID: 4, Protocol: SCTP, Entries: []ServiceEntry{{IP: VirtualNodePortIP, Port: 30132}}}
)

// groupLine renders a group the way ovs-ofctl add-group reads it.
func groupLine(g openflow.Group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "group_id=%d,type=%s", g.ID, g.Type)
	for _, bk := range g.Buckets {
		fmt.Fprintf(&b, ",bucket=bucket_id:%d,weight:%d,actions=%s", bk.ID, bk.Weight, bk.Actions)
	}
	return b.String()
}

func TestServiceGolden(t *testing.T) {
	cases := []struct {
		name   string
		flows  []openflow.Flow
		groups []openflow.Group
	}{
		{name: "service-pipeline", flows: ServicePipelineFlows(testServices)},
	}
	for name, lbs := range map[string][]LoadBalancer{
		"service-clusterip-tcp-udp": {testDNSTCP, testDNSUDP},
		"service-nodeport-affinity": {testWebAffinity},
		"service-local-no-endpoint": {testLocalNone},
	} {
		f, g := ServiceFlows(testServices, lbs)
		cases = append(cases, struct {
			name   string
			flows  []openflow.Flow
			groups []openflow.Group
		}{name, f, g})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGolden(t, c.name, c.groups, c.flows) })
	}
}

// The Service flows of several Services, the node's pipeline and its pods can live in one
// bridge: no two flows share a key, and every flow is in a declared or Service table.
func TestServiceFlowsHaveDistinctKeys(t *testing.T) {
	all := append(PipelineFlows(testNode), PodFlows(testNode, testPod1)...)
	all = append(all, PodFlows(testNode, testPod2)...)
	all = append(all, ServicePipelineFlows(testServices)...)
	f, _ := ServiceFlows(testServices, []LoadBalancer{testDNSTCP, testDNSUDP, testWebAffinity, testLocalNone})
	all = append(all, f...)
	seen := map[string]bool{}
	for _, fl := range all {
		if seen[fl.Key()] {
			t.Errorf("two flows with key %s", fl.Key())
		}
		seen[fl.Key()] = true
		_, declared := TableByID(fl.Table)
		service := false
		for _, st := range ServiceTables {
			service = service || st.ID == fl.Table
		}
		if !declared && !service {
			t.Errorf("flow %s is in an unknown table", fl.Key())
		}
	}
}

func TestValidateLoadBalancer(t *testing.T) {
	for _, lb := range []LoadBalancer{testDNSTCP, testDNSUDP, testWebAffinity, testLocalNone} {
		if err := testServices.ValidateLoadBalancer(lb); err != nil {
			t.Errorf("valid load balancer %d: %v", lb.ID, err)
		}
	}
	bad := LoadBalancer{Protocol: "icmp", AffinityTimeout: 86400,
		Endpoints: []ServiceEndpoint{{IP: net.ParseIP("fd00::1"), Port: 80}}}
	err := testServices.ValidateLoadBalancer(bad)
	for _, want := range []string{"id 0 is not a valid group id", `protocol "icmp"`, "no entry point",
		"affinity timeout 86400s", "endpoint fd00::1:80 is not an IPv4"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid load balancer: error %v does not mention %q", err, want)
		}
	}
	if err := (ServiceConfig{Node: testNode, SNATZone: DefaultCTZone}).Validate(); err == nil || !strings.Contains(err.Error(), "SNAT conntrack zone 65520") {
		t.Errorf("SNAT zone equal to the pod zone: %v", err)
	}
}

func TestL4BuilderText(t *testing.T) {
	got := flowLine(NewFlow(ServiceLB, 5).IPv4Dst(net.ParseIP("10.96.0.1")).L4(SCTP).L4Dst(443).Reg(EndpointToSelect).
		Then().Resubmit(SessionAffinity).Group(7).Done())
	want := "table=40,priority=5,sctp,reg4=0x10000/0x70000,nw_dst=10.96.0.1,tp_dst=443,actions=resubmit(,35),group:7"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	mustPanic(t, "port without protocol", "without a transport protocol", func() { NewFlow(ServiceLB, 1).IP().L4Dst(1) })
	mustPanic(t, "two protocols", "matches both", func() { NewFlow(ServiceLB, 1).L4(TCP).L4(UDP) })
	mustPanic(t, "arp then tcp", "matches both", func() { NewFlow(ServiceLB, 1).ARP().L4(TCP) })
	mustPanic(t, "unknown protocol", "not a transport protocol", func() { NewFlow(ServiceLB, 1).L4("icmp") })
}
