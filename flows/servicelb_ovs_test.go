package flows

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The node's pipeline, the Service pipeline and three Services are accepted by a real bridge as
// one bundle and dump back as the text the builders wrote; ofproto/trace shows that a new
// connection to a ClusterIP is committed with DNAT to one of its endpoints, that a pod reaching
// itself through its Service is marked for hairpin SNAT, and that established packets skip the
// Service tables.
func TestServicesInOVS(t *testing.T) {
	o := startPrivateOVS(t)
	o.vsctl(t, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow15",
		"--", "add-port", "br-int", "gw0", "--", "set", "interface", "gw0", "type=internal", "ofport_request=2", `mac="0a:58:0a:f4:01:01"`,
		"--", "add-port", "br-int", "pod1", "--", "set", "interface", "pod1", "type=internal", "ofport_request=10",
		"--", "add-port", "br-int", "pod2", "--", "set", "interface", "pod2", "type=internal", "ofport_request=11")

	all := append(PipelineFlows(testNode), PodFlows(testNode, testPod1)...)
	all = append(all, PodFlows(testNode, testPod2)...)
	all = append(all, ServicePipelineFlows(testServices)...)
	svcFlows, groups := ServiceFlows(testServices, []LoadBalancer{testDNSTCP, testDNSUDP, testWebAffinity, testLocalNone})
	all = append(all, svcFlows...)
	got, want := o.loadAndDump(t, groups, all)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("bridge lacks the flow as written:\n  %s", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("bridge has %d flows, want %d", len(got), len(want))
	}
	dumped := o.ofctl(t, "dump-groups")
	for _, g := range groups {
		line := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(groupLine(g)) + `$`)
		if !line.MatchString(dumped) {
			t.Errorf("bridge lacks the group as written:\n  %s\ndump:\n%s", groupLine(g), dumped)
		}
	}

	// The select groups hash in the datapath (dp_hash), which ofproto/trace cannot follow; for
	// the traces, hash on the source address in userspace instead (the buckets are unchanged).
	for _, g := range groups {
		o.ofctl(t, "mod-group", strings.Replace(groupLine(g), "type=select", "type=select,selection_method=hash,fields(nw_src)", 1))
	}

	const (
		gwMAC   = "0a:58:0a:f4:01:01"
		pod1MAC = "0a:58:0a:f4:01:02"
		pod2MAC = "0a:58:0a:f4:01:03"
	)
	// Pod 2 opens a TCP connection to the DNS ClusterIP: conntrack says new twice (the pod
	// network's zone, then the endpoint's commit).
	trace := o.appctl(t, "ofproto/trace", "br-int", "in_port=11,tcp,dl_src="+pod2MAC+",dl_dst="+gwMAC+
		",nw_src=10.244.1.3,nw_dst=10.96.0.10,nw_ttl=64,tp_src=40000,tp_dst=53", "--ct-next", "trk,new", "--ct-next", "trk,new")
	dnat := regexp.MustCompile(`ct\(commit,zone=65520,mark=0x1/0x5,nat\(dst=(10\.244\.1\.2|10\.244\.2\.2):5353\)\)`)
	if !dnat.MatchString(trace) {
		t.Errorf("ClusterIP connection is not committed with DNAT to an endpoint:\n%s", trace)
	}
	if !strings.Contains(trace, "group:1") {
		t.Errorf("ClusterIP connection does not go through group 1:\n%s", trace)
	}

	// Pod 1 reaches itself through the Service; the endpoint commit marks it hairpin.
	trace = o.appctl(t, "ofproto/trace", "br-int", "udp,in_port=10,dl_src="+pod1MAC+",dl_dst="+gwMAC+
		",nw_src=10.244.1.2,nw_dst=10.96.0.10,nw_ttl=64,udp_src=40000,udp_dst=53", "--ct-next", "trk,new", "--ct-next", "trk,new")
	if hairpin := regexp.MustCompile(`ct\(commit,zone=65520,mark=0x3/0x7,nat\(dst=10\.244\.1\.2:5353\)\)`); hairpin.MatchString(trace) {
		t.Logf("hairpin commit found")
	} else if !strings.Contains(trace, "nat(dst=10.244.2.2:5353)") {
		t.Errorf("hairpin connection is neither marked hairpin nor sent to the other endpoint:\n%s", trace)
	}

	// With session affinity the choice is learned into SessionAffinity before the DNAT.
	trace = o.appctl(t, "ofproto/trace", "br-int", "in_port=11,tcp,dl_src="+pod2MAC+",dl_dst="+gwMAC+
		",nw_src=10.244.1.3,nw_dst=10.96.0.20,nw_ttl=64,tp_src=40001,tp_dst=80", "--ct-next", "trk,new", "--ct-next", "trk,new")
	for _, want := range []string{"learn(table=35", "nat(dst=10.244.1.3:8080)"} {
		if !strings.Contains(trace, want) {
			t.Errorf("affinity connection lacks %s:\n%s", want, trace)
		}
	}

	// An established packet of the same connection never enters the Service tables.
	trace = o.appctl(t, "ofproto/trace", "br-int", "in_port=11,tcp,dl_src="+pod2MAC+",dl_dst="+gwMAC+
		",nw_src=10.244.1.3,nw_dst=10.96.0.10,nw_ttl=64,tp_src=40000,tp_dst=53", "--ct-next", "trk,est")
	if strings.Contains(trace, "group:1") || strings.Contains(trace, "\n40. ") || strings.Contains(trace, "\n35. ") {
		t.Errorf("established packet went through the Service tables:\n%s", trace)
	}

	// A NodePort connection with externalTrafficPolicy Local and no local endpoint is dropped.
	trace = o.appctl(t, "ofproto/trace", "br-int", "in_port=2,sctp,dl_src="+gwMAC+",dl_dst="+gwMAC+
		",nw_src=192.0.2.7,nw_dst=169.254.0.252,nw_ttl=64,sctp_src=40000,sctp_dst=30132", "--ct-next", "trk,new")
	if m := regexp.MustCompile(`(?m)^Datapath actions: (.*)$`).FindAllStringSubmatch(trace, -1); len(m) == 0 || m[len(m)-1][1] != "drop" {
		t.Errorf("NodePort without a local endpoint is not dropped:\n%s", trace)
	}
}

// ofproto/trace given SelectHash's dp_hash follows exactly that bucket of a Service's dp_hash select group, for
// groups of 2, 5 and 17 endpoints (17 needs 32 hash values).
func TestSelectHashPicksTheBucket(t *testing.T) {
	o := startPrivateOVS(t)
	o.vsctl(t, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow15",
		"--", "add-port", "br-int", "gw0", "--", "set", "interface", "gw0", "type=internal", "ofport_request=2", `mac="0a:58:0a:f4:01:01"`,
		"--", "add-port", "br-int", "pod2", "--", "set", "interface", "pod2", "type=internal", "ofport_request=11")
	var lbs []LoadBalancer
	for i, n := range []int{2, 5, 17} {
		lb := LoadBalancer{ID: uint32(10 + i), Protocol: TCP, Entries: []ServiceEntry{{IP: net.IPv4(10, 96, 1, byte(i)), Port: 80}}}
		for e := range n {
			lb.Endpoints = append(lb.Endpoints, ServiceEndpoint{IP: net.IPv4(10, 244, 9, byte(e+1)), Port: uint16(8000 + e)})
		}
		lbs = append(lbs, lb)
	}
	all := append(PipelineFlows(testNode), PodFlows(testNode, testPod2)...)
	all = append(all, ServicePipelineFlows(testServices)...)
	svcFlows, groups := ServiceFlows(testServices, lbs)
	o.loadAndDump(t, groups, append(all, svcFlows...))
	dnat := regexp.MustCompile(`nat\(dst=([0-9.]+):(\d+)\)`)
	for _, lb := range lbs {
		n := len(lb.Endpoints)
		for k, ep := range lb.Endpoints {
			trace := o.appctl(t, "ofproto/trace", "br-int", fmt.Sprintf("in_port=11,tcp,dl_src=0a:58:0a:f4:01:03,dl_dst=0a:58:0a:f4:01:01,"+
				"nw_src=10.244.1.3,nw_dst=%s,nw_ttl=64,tp_src=40000,tp_dst=80,dp_hash=%d", lb.Entries[0].IP, SelectHash(k, n)),
				"--ct-next", "trk,new", "--ct-next", "trk,new")
			m := dnat.FindStringSubmatch(trace)
			if want := fmt.Sprintf("%s:%d", ep.IP, ep.Port); m == nil || m[1]+":"+m[2] != want {
				t.Errorf("group %d (%d buckets), bucket %d: DNAT %v, want %s\n%s", lb.ID, n, k, m, want, trace)
			}
		}
	}
}
