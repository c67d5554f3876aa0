// Package services holds the Service load-balancing e2e suite (issue 5), run against one lab per traffic mode by
// the packages geneve and noencap. Each test is one bullet of the issue, modelled on the upstream conformance cases
// (../shared/services-cases.md): ClusterIP over TCP and UDP from pods, the node's host stack and hostNetwork pods,
// several ports and one port on two protocols, NodePort from another node, the external host and the node itself,
// externalTrafficPolicy Cluster and Local, externalIPs and load balancer ingress IPs, session affinity,
// internalTrafficPolicy Local, terminating endpoints, publishNotReadyAddresses, refusal without endpoints, hairpin,
// source IP preservation, incremental flow updates and the Services the proxy must ignore. The lab has two nodes;
// clients on node1 reach servers on node2 (and the other way round).
package services

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/lab/workload"
)

// Ports of the server pods' built-in servers (each answers with the pod's name).
const (
	webPort  = 8080                // TCP and UDP
	altPort  = 8090                // TCP
	manualMB = "e2e.switchyard.io" // managed-by of the hand-written EndpointSlices
)

// Lab returns the lab options of a mode: 2 nodes, flat, with address ranges of its own (k) so that the packages can
// run at the same time as the other e2e packages.
func Lab(mode string, k int) framework.LabOptions {
	o := framework.DefaultLab()
	o.Nodes, o.Mode, o.Tunnel = 2, mode, "geneve"
	o.UnderlayCIDR = fmt.Sprintf("192.168.%d.0/24", 120+k)
	o.Underlay2 = fmt.Sprintf("192.168.%d.0/24", 125+k)
	o.ClusterCIDR = fmt.Sprintf("10.%d.0.0/16", 220+k)
	o.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 230+k)
	return o
}

// Main is a mode package's TestMain.
func Main(m *testing.M, o framework.LabOptions) { framework.Main(m, o) }

// env is a running suite: the lab, a namespace, a server and a client pod per node, a hostNetwork pod per node.
type env struct {
	f       *framework.Framework
	ns      string
	srv     [3]*corev1.Pod // srv[i] runs on node i (app=web, name=srvI)
	client  [3]*corev1.Pod
	hostnet [3]*corev1.Pod
	// external addresses of this lab (documentation ranges, routed only inside the lab's external namespace)
	extIP, lbIP string
}

func setup(t *testing.T) *env {
	f := framework.Get(t)
	e := &env{f: f}
	e.ns = f.Namespace(t, "svc", nil)
	third := f.Lab.Plan.UnderlayA.IP.To4()[2]
	e.extIP = fmt.Sprintf("203.0.113.%d", third)
	e.lbIP = fmt.Sprintf("198.51.100.%d", third)
	var wg sync.WaitGroup
	for i := 1; i <= 2; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			e.srv[i] = f.CreatePod(t, e.ns, fmt.Sprintf("srv%d", i), framework.PodSpec{Node: i,
				Labels: map[string]string{"app": "web", "name": fmt.Sprintf("srv%d", i)},
				TCP:    []int32{webPort, altPort}, UDP: []int32{webPort}})
		}()
		go func() {
			defer wg.Done()
			e.client[i] = f.CreatePod(t, e.ns, fmt.Sprintf("client%d", i), framework.PodSpec{Node: i,
				Labels: map[string]string{"app": "client"}, TCP: []int32{webPort}})
		}()
		go func() {
			defer wg.Done()
			e.hostnet[i] = f.CreatePod(t, e.ns, fmt.Sprintf("hostnet%d", i), framework.PodSpec{Node: i, HostNetwork: true})
		}()
	}
	wg.Wait()
	for i := 1; i <= 2; i++ {
		if e.srv[i] == nil || e.client[i] == nil || e.hostnet[i] == nil {
			t.FailNow()
		}
	}
	return e
}

// Run runs the whole suite against the package's lab. The tests use Services of their own and run in parallel.
func Run(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"ClusterIPTCP", e.clusterIPTCP},
		{"ClusterIPUDP", e.clusterIPUDP},
		{"ClusterIPSCTP", e.clusterIPSCTP},
		{"MultiPort", e.multiPort},
		{"SamePortTwoProtocols", e.samePortTwoProtocols},
		{"FromHost", e.fromHost},
		{"FromHostNetworkPod", e.fromHostNetworkPod},
		{"NodePort", e.nodePort},
		{"ExternalTrafficPolicyCluster", e.externalCluster},
		{"ExternalTrafficPolicyLocal", e.externalLocal},
		{"ExternalIPs", e.externalIPs},
		{"LoadBalancerIngress", e.loadBalancerIngress},
		{"SessionAffinity", e.sessionAffinity},
		{"InternalTrafficPolicyLocal", e.internalLocal},
		{"TerminatingEndpoints", e.terminating},
		{"PublishNotReadyAddresses", e.publishNotReady},
		{"NoEndpointsRefused", e.noEndpoints},
		{"Hairpin", e.hairpin},
		{"SourceIPPreserved", e.sourceIP},
		{"IncrementalUpdate", e.incremental},
		{"ServiceProxyNameIgnored", e.proxyNameIgnored},
		{"HeadlessNoFlows", e.headless},
	}
	t.Run("group", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t)
			})
		}
	})
}

// ---- Services and endpoints ----

type svcOpt func(*corev1.Service)

func selector(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Spec.Selector[kv[i]] = kv[i+1]
		}
	}
}

func port(name string, proto corev1.Protocol, p, target int) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: name, Protocol: proto, Port: int32(p), TargetPort: intstr.FromInt32(int32(target))})
	}
}

func svcType(ty corev1.ServiceType) svcOpt { return func(s *corev1.Service) { s.Spec.Type = ty } }

func labels(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
}

// service creates a Service in the suite's namespace (deleted with it, and when the test ends).
func (e *env) service(t *testing.T, name string, opts ...svcOpt) *corev1.Service {
	t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}}
	for _, o := range opts {
		o(s)
	}
	got, err := e.f.Client.CoreV1().Services(e.ns).Create(context.Background(), s, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = e.f.Client.CoreV1().Services(e.ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return got
}

// update changes a Service (retrying on conflicts) and returns it.
func (e *env) update(t *testing.T, name string, fn func(*corev1.Service)) *corev1.Service {
	t.Helper()
	var out *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := e.f.Client.CoreV1().Services(e.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		fn(s)
		out, err = e.f.Client.CoreV1().Services(e.ns).Update(context.Background(), s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating service %s: %v", name, err)
	}
	return out
}

func nodePortOf(s *corev1.Service, name string) int {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return int(p.NodePort)
		}
	}
	return 0
}

// ep is a hand-written endpoint: a server pod and its conditions.
type ep struct {
	pod                         *corev1.Pod
	ready, serving, terminating bool
}

// slice writes (creates or replaces) the hand-written EndpointSlice of a selector-less Service: one TCP port named
// portName with target port target.
func (e *env) slice(t *testing.T, svc, portName string, target int, eps ...ep) {
	t.Helper()
	name := svc + "-manual"
	p, proto := int32(target), corev1.ProtocolTCP
	s := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: map[string]string{
			discovery.LabelServiceName: svc, discovery.LabelManagedBy: manualMB}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: &portName, Port: &p, Protocol: &proto}},
	}
	for _, x := range eps {
		node := x.pod.Spec.NodeName
		s.Endpoints = append(s.Endpoints, discovery.Endpoint{Addresses: []string{x.pod.Status.PodIP}, NodeName: &node,
			Conditions: discovery.EndpointConditions{Ready: ptr(x.ready), Serving: ptr(x.serving), Terminating: ptr(x.terminating)}})
	}
	c := e.f.Client.DiscoveryV1().EndpointSlices(e.ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		old, err := c.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			_, err = c.Create(context.Background(), s, metav1.CreateOptions{})
			return err
		}
		s.ResourceVersion = old.ResourceVersion
		_, err = c.Update(context.Background(), s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("writing EndpointSlice %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

func ptr[T any](v T) *T { return &v }

// ---- probing ----

// probe connects once; an error of the probe itself counts as "not connected" (outcome 0).
func (e *env) probe(netns, host string, port int, proto string, timeout time.Duration) (string, framework.Outcome) {
	reply, out, err := workload.Probe(context.Background(), "/run/netns/"+netns, net.JoinHostPort(host, strconv.Itoa(port)), proto, timeout)
	if err != nil {
		return err.Error(), 0
	}
	return reply, out
}

// eventually probes until ok accepts the result (the agent programs a new Service within a second or two).
func (e *env) eventually(t *testing.T, what, netns, host string, port int, proto string, ok func(string, framework.Outcome) bool) {
	t.Helper()
	var reply string
	var out framework.Outcome
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		reply, out = e.probe(netns, host, port, proto, time.Second)
		if ok(reply, out) {
			return
		}
	}
	t.Fatalf("%s (%s %s:%d from %s): still %s %q after 15s", what, proto, host, port, netns, out, reply)
}

func connected(_ string, o framework.Outcome) bool { return o == framework.Connected }

func answeredBy(names ...string) func(string, framework.Outcome) bool {
	return func(r string, o framework.Outcome) bool {
		for _, n := range names {
			if o == framework.Connected && r == n {
				return true
			}
		}
		return false
	}
}

func outcome(want framework.Outcome) func(string, framework.Outcome) bool {
	return func(_ string, o framework.Outcome) bool { return o == want }
}

// spread opens n connections (in parallel) and counts the replies; every connection must succeed.
func (e *env) spread(t *testing.T, netns, host string, port int, proto string, n int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	var fails []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var reply string
			var out framework.Outcome
			for try := 0; try < 3; try++ { // a lost first UDP datagram is no failure
				if reply, out = e.probe(netns, host, port, proto, 2*time.Second); out == framework.Connected && reply != "" {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if out != framework.Connected || reply == "" {
				fails = append(fails, fmt.Sprintf("%s %q", out, reply))
				return
			}
			seen[reply]++
		}()
	}
	wg.Wait()
	if len(fails) > 0 {
		t.Errorf("%s %s:%d from %s: %d of %d connections failed: %v", proto, host, port, netns, len(fails), n, fails)
	}
	return seen
}

// wantBoth checks that both servers answered (the load balancer spreads over the nodes).
func wantBoth(t *testing.T, what string, seen map[string]int) {
	t.Helper()
	if seen["srv1"] == 0 || seen["srv2"] == 0 || len(seen) != 2 {
		t.Errorf("%s: replies %v, want both srv1 and srv2 and nothing else", what, seen)
	}
}

func (e *env) podNS(t *testing.T, p *corev1.Pod) string { return e.f.Netns(t, p) }

// listen opens a TCP listener in a pod's namespace on port and returns a channel of the peer addresses of the
// connections it accepts (it answers nothing). It closes when the test ends.
func (e *env) listen(t *testing.T, p *corev1.Pod, port int) <-chan string {
	t.Helper()
	var ln net.Listener
	path := "/run/netns/" + e.podNS(t, p)
	if err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatalf("listening on %d in %s: %v", port, p.Name, err)
	}
	t.Cleanup(func() { ln.Close() })
	peers := make(chan string, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case peers <- c.RemoteAddr().(*net.TCPAddr).IP.String():
			default:
			}
			c.Close()
		}
	}()
	return peers
}

// peer connects (until it succeeds) and returns the address the listener saw.
func (e *env) peer(t *testing.T, peers <-chan string, netns, host string, port int) string {
	t.Helper()
	for len(peers) > 0 {
		<-peers
	}
	e.eventually(t, "connect to the peer-reporting listener", netns, host, port, "tcp", connected)
	select {
	case p := <-peers:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("no connection reached the listener behind %s:%d", host, port)
		return ""
	}
}

// ---- the lab's nodes ----

func (e *env) nodeIP(i int) string { return e.f.Lab.Plan.NodeIP(i).String() }

func (e *env) ovs(i int, args ...string) string {
	cmd := exec.Command("ovs-ofctl", append([]string{"-O", "OpenFlow15"}, args...)...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+filepath.Join(e.f.Lab.NodeDir(i), "ovs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "error: " + err.Error() + ": " + string(out)
	}
	return string(out)
}

func (e *env) flows(i int) string  { return e.ovs(i, "dump-flows", "br-int") }
func (e *env) groups(i int) string { return e.ovs(i, "dump-groups", "br-int") }

// waitFlows polls node i's flows until ok accepts them (15 s).
func (e *env) waitFlows(t *testing.T, i int, what string, ok func(flows string) bool) string {
	t.Helper()
	var fl string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if fl = e.flows(i); ok(fl) {
			return fl
		}
	}
	t.Fatalf("node%d: %s not seen within 15s; flows:\n%s", i, what, fl)
	return ""
}

func lines(text, substr string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// externalRoute routes dst from the external host through node i (removed when the test ends).
func (e *env) externalRoute(t *testing.T, dst string, i int) {
	t.Helper()
	ext := e.f.ExternalNetns()
	if out, err := exec.Command("ip", "-n", ext, "route", "replace", dst+"/32", "via", e.nodeIP(i)).CombinedOutput(); err != nil {
		t.Fatalf("route %s via node%d in %s: %v %s", dst, i, ext, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "-n", ext, "route", "del", dst+"/32").Run() })
}

// ---- the tests ----

// ClusterIP over TCP: clients on both nodes reach both endpoints (one local, one remote).
func (e *env) clusterIPTCP(t *testing.T) {
	s := e.service(t, "tcp", selector("app", "web"), port("", corev1.ProtocolTCP, 80, webPort))
	ip := s.Spec.ClusterIP
	for i := 1; i <= 2; i++ {
		netns := e.podNS(t, e.client[i])
		e.eventually(t, "ClusterIP answers", netns, ip, 80, "tcp", answeredBy("srv1", "srv2"))
		wantBoth(t, fmt.Sprintf("client%d -> ClusterIP tcp", i), e.spread(t, netns, ip, 80, "tcp", 24))
	}
}

// ClusterIP over UDP.
func (e *env) clusterIPUDP(t *testing.T) {
	s := e.service(t, "udp", selector("app", "web"), port("", corev1.ProtocolUDP, 53, webPort))
	ip := s.Spec.ClusterIP
	for i := 1; i <= 2; i++ {
		netns := e.podNS(t, e.client[i])
		e.eventually(t, "ClusterIP answers", netns, ip, 53, "udp", answeredBy("srv1", "srv2"))
		wantBoth(t, fmt.Sprintf("client%d -> ClusterIP udp", i), e.spread(t, netns, ip, 53, "udp", 24))
	}
}

// ClusterIP over SCTP, where the kernel has SCTP (untested here: the lab machine's kernel has none).
func (e *env) clusterIPSCTP(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/sctp"); err != nil && exec.Command("modprobe", "sctp").Run() != nil {
		t.Skip("the kernel has no SCTP")
	}
	const sctpPort = 9132
	for i := 1; i <= 2; i++ {
		e.f.CreatePod(t, e.ns, fmt.Sprintf("sctp%d", i), framework.PodSpec{Node: i,
			Labels: map[string]string{"app": "sctp"}, SCTP: []int32{sctpPort}})
	}
	s := e.service(t, "sctp", selector("app", "sctp"), port("", corev1.ProtocolSCTP, 80, sctpPort))
	netns := e.podNS(t, e.client[1])
	e.eventually(t, "ClusterIP answers", netns, s.Spec.ClusterIP, 80, "sctp", answeredBy("sctp1", "sctp2"))
	seen := e.spread(t, netns, s.Spec.ClusterIP, 80, "sctp", 16)
	if seen["sctp1"] == 0 || seen["sctp2"] == 0 {
		t.Errorf("client1 -> ClusterIP sctp: replies %v, want both sctp1 and sctp2", seen)
	}
}

// Several ports: each answers; a port added later answers, a deleted port no longer does.
func (e *env) multiPort(t *testing.T) {
	s := e.service(t, "multi", selector("app", "web"),
		port("a", corev1.ProtocolTCP, 80, webPort), port("b", corev1.ProtocolTCP, 81, altPort))
	ip := s.Spec.ClusterIP
	netns := e.podNS(t, e.client[1])
	for _, p := range []int{80, 81} {
		e.eventually(t, "port answers", netns, ip, p, "tcp", answeredBy("srv1", "srv2"))
		wantBoth(t, fmt.Sprintf("port %d", p), e.spread(t, netns, ip, p, "tcp", 16))
	}
	e.update(t, "multi", func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{s.Spec.Ports[0],
			{Name: "c", Protocol: corev1.ProtocolUDP, Port: 82, TargetPort: intstr.FromInt32(webPort)}}
	})
	e.eventually(t, "added port answers", netns, ip, 82, "udp", answeredBy("srv1", "srv2"))
	e.eventually(t, "deleted port stops answering", netns, ip, 81, "tcp",
		func(_ string, o framework.Outcome) bool { return o != framework.Connected })
	e.eventually(t, "kept port still answers", netns, ip, 80, "tcp", answeredBy("srv1", "srv2"))
}

// One port number on TCP and UDP.
func (e *env) samePortTwoProtocols(t *testing.T) {
	s := e.service(t, "dns", selector("app", "web"),
		port("dns-tcp", corev1.ProtocolTCP, 53, altPort), port("dns-udp", corev1.ProtocolUDP, 53, webPort))
	ip := s.Spec.ClusterIP
	netns := e.podNS(t, e.client[1])
	e.eventually(t, "tcp/53 answers", netns, ip, 53, "tcp", answeredBy("srv1", "srv2"))
	e.eventually(t, "udp/53 answers", netns, ip, 53, "udp", answeredBy("srv1", "srv2"))
	wantBoth(t, "tcp/53", e.spread(t, netns, ip, 53, "tcp", 16))
	wantBoth(t, "udp/53", e.spread(t, netns, ip, 53, "udp", 16))
}

// The node's host stack reaches a ClusterIP (both endpoints: the local one and the remote one).
func (e *env) fromHost(t *testing.T) {
	s := e.service(t, "fromhost", selector("app", "web"),
		port("t", corev1.ProtocolTCP, 80, webPort), port("u", corev1.ProtocolUDP, 80, webPort))
	ip := s.Spec.ClusterIP
	for i := 1; i <= 2; i++ {
		netns := e.f.NodeNetns(i)
		for _, proto := range []string{"tcp", "udp"} {
			e.eventually(t, "ClusterIP answers the host", netns, ip, 80, proto, answeredBy("srv1", "srv2"))
			wantBoth(t, fmt.Sprintf("node%d -> ClusterIP %s", i, proto), e.spread(t, netns, ip, 80, proto, 24))
		}
	}
}

// hostNetwork pods reach a ClusterIP.
func (e *env) fromHostNetworkPod(t *testing.T) {
	s := e.service(t, "fromhostnet", selector("app", "web"), port("", corev1.ProtocolTCP, 80, altPort))
	ip := s.Spec.ClusterIP
	for i := 1; i <= 2; i++ {
		netns := e.podNS(t, e.hostnet[i])
		e.eventually(t, "ClusterIP answers the hostNetwork pod", netns, ip, 80, "tcp", answeredBy("srv1", "srv2"))
		wantBoth(t, fmt.Sprintf("hostnet%d -> ClusterIP", i), e.spread(t, netns, ip, 80, "tcp", 24))
	}
}

// NodePort (TCP and UDP) from another node, from the external host, from the node itself and from a pod.
func (e *env) nodePort(t *testing.T) {
	s := e.service(t, "np", selector("app", "web"), svcType(corev1.ServiceTypeNodePort),
		port("t", corev1.ProtocolTCP, 80, webPort), port("u", corev1.ProtocolUDP, 80, webPort))
	tcp, udp := nodePortOf(s, "t"), nodePortOf(s, "u")
	ext := e.f.ExternalNetns()
	e.eventually(t, "NodePort answers", ext, e.nodeIP(1), tcp, "tcp", answeredBy("srv1", "srv2"))
	from := map[string]string{"external host": ext, "node1": e.f.NodeNetns(1), "node2": e.f.NodeNetns(2),
		"client1": e.podNS(t, e.client[1])}
	for name, netns := range from {
		for i := 1; i <= 2; i++ {
			for _, p := range []struct {
				proto string
				port  int
			}{{"tcp", tcp}, {"udp", udp}} {
				seen := e.spread(t, netns, e.nodeIP(i), p.port, p.proto, 12)
				wantBoth(t, fmt.Sprintf("%s -> node%d:%d/%s", name, i, p.port, p.proto), seen)
			}
		}
	}
}

// externalTrafficPolicy Cluster: a node without an endpoint forwards to the other node's (SNAT brings the reply
// back), from the external host, another node, the node itself and a pod.
func (e *env) externalCluster(t *testing.T) {
	s := e.service(t, "etpcluster", selector("name", "srv2"), svcType(corev1.ServiceTypeNodePort),
		port("t", corev1.ProtocolTCP, 80, webPort), port("u", corev1.ProtocolUDP, 80, webPort))
	tcp, udp := nodePortOf(s, "t"), nodePortOf(s, "u")
	ext := e.f.ExternalNetns()
	e.eventually(t, "NodePort answers", ext, e.nodeIP(1), tcp, "tcp", answeredBy("srv2"))
	var cases []framework.Case
	from := map[string]string{"external host": ext, "node1": e.f.NodeNetns(1), "node2": e.f.NodeNetns(2),
		"client1": e.podNS(t, e.client[1])}
	for name, netns := range from {
		for i := 1; i <= 2; i++ {
			cases = append(cases,
				framework.Case{Name: fmt.Sprintf("%s -> node%d tcp", name, i), Netns: netns, Host: e.nodeIP(i), Port: tcp, Proto: "tcp", Want: framework.Connected, Reply: "srv2"},
				framework.Case{Name: fmt.Sprintf("%s -> node%d udp", name, i), Netns: netns, Host: e.nodeIP(i), Port: udp, Proto: "udp", Want: framework.Connected, Reply: "srv2"})
		}
	}
	e.f.Matrix(t, cases)
}

// externalTrafficPolicy Local: only the node with an endpoint answers, and the endpoint sees the client's address.
func (e *env) externalLocal(t *testing.T) {
	const listenPort = 9302
	peers := e.listen(t, e.srv[2], listenPort)
	s := e.service(t, "etplocal", selector("name", "srv2"), svcType(corev1.ServiceTypeNodePort),
		port("t", corev1.ProtocolTCP, 80, webPort), port("ip", corev1.ProtocolTCP, 81, listenPort),
		func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal })
	tcp, ipPort := nodePortOf(s, "t"), nodePortOf(s, "ip")
	ext := e.f.ExternalNetns()
	e.eventually(t, "NodePort answers on the endpoint's node", ext, e.nodeIP(2), tcp, "tcp", answeredBy("srv2"))
	e.f.Matrix(t, []framework.Case{
		{Name: "external -> node2 (local endpoint)", Netns: ext, Host: e.nodeIP(2), Port: tcp, Proto: "tcp", Want: framework.Connected, Reply: "srv2"},
		{Name: "external -> node1 (no local endpoint)", Netns: ext, Host: e.nodeIP(1), Port: tcp, Proto: "tcp", Want: framework.Timeout, Timeout: 1500 * time.Millisecond},
		{Name: "client1 -> ClusterIP (internal traffic is not local)", Netns: e.podNS(t, e.client[1]), Host: s.Spec.ClusterIP, Port: 80, Proto: "tcp", Want: framework.Connected, Reply: "srv2"},
	})
	want := e.f.Lab.Plan.ExternalIP().String()
	if got := e.peer(t, peers, ext, e.nodeIP(2), ipPort); got != want {
		t.Errorf("externalTrafficPolicy Local: the endpoint saw the client as %s, want the external host's %s", got, want)
	}
}

// externalIPs are entry points: from the external host (routed through a node) and from a pod.
func (e *env) externalIPs(t *testing.T) {
	s := e.service(t, "extip", selector("app", "web"), port("", corev1.ProtocolTCP, 80, webPort),
		func(s *corev1.Service) { s.Spec.ExternalIPs = []string{e.extIP} })
	_ = s
	e.externalRoute(t, e.extIP, 1)
	ext := e.f.ExternalNetns()
	e.eventually(t, "externalIP answers the external host", ext, e.extIP, 80, "tcp", answeredBy("srv1", "srv2"))
	wantBoth(t, "external -> externalIP", e.spread(t, ext, e.extIP, 80, "tcp", 16))
	wantBoth(t, "client2 -> externalIP", e.spread(t, e.podNS(t, e.client[2]), e.extIP, 80, "tcp", 16))
}

// Load balancer ingress IPs (status patched by the test) are entry points like externalIPs.
func (e *env) loadBalancerIngress(t *testing.T) {
	e.service(t, "lb", selector("app", "web"), svcType(corev1.ServiceTypeLoadBalancer), port("", corev1.ProtocolTCP, 80, webPort))
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := e.f.Client.CoreV1().Services(e.ns).Get(context.Background(), "lb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: e.lbIP}}
		_, err = e.f.Client.CoreV1().Services(e.ns).UpdateStatus(context.Background(), s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("setting the load balancer ingress: %v", err)
	}
	e.externalRoute(t, e.lbIP, 2)
	ext := e.f.ExternalNetns()
	e.eventually(t, "load balancer IP answers the external host", ext, e.lbIP, 80, "tcp", answeredBy("srv1", "srv2"))
	wantBoth(t, "external -> load balancer IP", e.spread(t, ext, e.lbIP, 80, "tcp", 16))
	wantBoth(t, "client1 -> load balancer IP", e.spread(t, e.podNS(t, e.client[1]), e.lbIP, 80, "tcp", 16))
}

// sessionAffinity ClientIP: one client gets one endpoint (ClusterIP and NodePort); turning affinity off spreads
// again, turning it on takes effect; the learned choice expires after timeoutSeconds without new connections.
func (e *env) sessionAffinity(t *testing.T) {
	s := e.service(t, "sticky", selector("app", "web"), svcType(corev1.ServiceTypeNodePort),
		port("", corev1.ProtocolTCP, 80, webPort),
		func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP })
	ip, np := s.Spec.ClusterIP, nodePortOf(s, "")
	client := e.podNS(t, e.client[1])
	ext := e.f.ExternalNetns()
	e.eventually(t, "ClusterIP answers", client, ip, 80, "tcp", answeredBy("srv1", "srv2"))
	// The first connection teaches SessionAffinity the client's endpoint; connections racing with
	// it (or reusing a datapath flow cached before the learned flow existed) may still be spread,
	// so the others follow once the revalidators have caught up.
	sticky := func(what, netns, host string, port int) {
		t.Helper()
		e.eventually(t, what+": first connection", netns, host, port, "tcp", answeredBy("srv1", "srv2"))
		time.Sleep(time.Second)
		if seen := e.spread(t, netns, host, port, "tcp", 15); len(seen) != 1 {
			t.Errorf("%s with affinity: replies %v, want one endpoint", what, seen)
		}
	}
	sticky("client1 -> ClusterIP", client, ip, 80)
	sticky("external -> node1 NodePort", ext, e.nodeIP(1), np)
	sticky("external -> node2 NodePort", ext, e.nodeIP(2), np)

	e.update(t, "sticky", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityNone })
	spreadAgain := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !spreadAgain; {
		spreadAgain = len(e.spread(t, client, ip, 80, "tcp", 16)) == 2
	}
	if !spreadAgain {
		t.Errorf("affinity turned off: client1 still gets one endpoint")
	}
	if got := lines(e.flows(1), "table=35"); len(got) != 1 {
		t.Errorf("affinity turned off: SessionAffinity still has learned flows:\n%s", strings.Join(got, "\n"))
	}

	e.update(t, "sticky", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(3))}}
	})
	e.waitFlows(t, 1, "the affinity learn flow", func(fl string) bool {
		return len(lines(fl, "learn(table=35,idle_timeout=3")) > 0
	})
	sticky("client1 -> ClusterIP, affinity on again", client, ip, 80)
	learned := fmt.Sprintf("nw_src=%s,nw_dst=%s", e.client[1].Status.PodIP, ip)
	if len(lines(e.flows(1), learned)) == 0 {
		t.Errorf("no learned affinity flow for %s on node1:\n%s", learned, strings.Join(lines(e.flows(1), "table=35"), "\n"))
	}
	e.waitFlows(t, 1, "expiry of the learned affinity flow (timeoutSeconds 3)", func(fl string) bool {
		return len(lines(fl, learned)) == 0
	})
}

// internalTrafficPolicy Local: clients (pods, hostNetwork pods, the host) on the endpoint's node succeed, the
// others do not.
func (e *env) internalLocal(t *testing.T) {
	s := e.service(t, "itp", selector("name", "srv2"), port("", corev1.ProtocolTCP, 80, webPort),
		func(s *corev1.Service) { s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal) })
	ip := s.Spec.ClusterIP
	e.eventually(t, "local client reaches the local endpoint", e.podNS(t, e.client[2]), ip, 80, "tcp", answeredBy("srv2"))
	to := 1500 * time.Millisecond
	e.f.Matrix(t, []framework.Case{
		{Name: "client2 (local)", Netns: e.podNS(t, e.client[2]), Host: ip, Port: 80, Proto: "tcp", Want: framework.Connected, Reply: "srv2"},
		{Name: "hostnet2 (local)", Netns: e.podNS(t, e.hostnet[2]), Host: ip, Port: 80, Proto: "tcp", Want: framework.Connected, Reply: "srv2"},
		{Name: "client1 (remote)", Netns: e.podNS(t, e.client[1]), Host: ip, Port: 80, Proto: "tcp", Want: framework.Timeout, Timeout: to},
		// From the host stack of a node without a local endpoint the connection must not be delivered; in noEncap the
		// host answers it with a reject (refused) rather than letting it time out.
		{Name: "hostnet1 (remote)", Netns: e.podNS(t, e.hostnet[1]), Host: ip, Port: 80, Proto: "tcp", Want: framework.Timeout, AlsoOK: framework.Refused, Timeout: to},
	})
}

// Terminating but serving endpoints are used only when no endpoint is ready; none serving: refused.
func (e *env) terminating(t *testing.T) {
	s := e.service(t, "term", port("http", corev1.ProtocolTCP, 80, webPort))
	ip := s.Spec.ClusterIP
	client := e.podNS(t, e.client[1])
	e.slice(t, "term", "http", webPort, ep{pod: e.srv[1], ready: true, serving: true}, ep{pod: e.srv[2], serving: true, terminating: true})
	e.eventually(t, "ready endpoint answers", client, ip, 80, "tcp", answeredBy("srv1"))
	if seen := e.spread(t, client, ip, 80, "tcp", 16); len(seen) != 1 || seen["srv1"] == 0 {
		t.Errorf("a ready and a terminating endpoint: replies %v, want only the ready srv1", seen)
	}
	e.slice(t, "term", "http", webPort, ep{pod: e.srv[1], terminating: true}, ep{pod: e.srv[2], serving: true, terminating: true})
	e.eventually(t, "only the serving terminating endpoint answers", client, ip, 80, "tcp", answeredBy("srv2"))
	if seen := e.spread(t, client, ip, 80, "tcp", 16); len(seen) != 1 || seen["srv2"] == 0 {
		t.Errorf("no ready endpoint: replies %v, want only the serving terminating srv2", seen)
	}
	e.slice(t, "term", "http", webPort, ep{pod: e.srv[1], terminating: true}, ep{pod: e.srv[2], terminating: true})
	e.eventually(t, "no serving endpoint: refused", client, ip, 80, "tcp", outcome(framework.Refused))
}

// publishNotReadyAddresses: an unready endpoint is used when true, not when false.
func (e *env) publishNotReady(t *testing.T) {
	s := e.service(t, "pnr", port("", corev1.ProtocolTCP, 80, webPort))
	ip := s.Spec.ClusterIP
	client := e.podNS(t, e.client[1])
	e.slice(t, "pnr", "", webPort, ep{pod: e.srv[2]})
	e.eventually(t, "unready endpoint not used", client, ip, 80, "tcp", outcome(framework.Refused))
	e.update(t, "pnr", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true })
	e.eventually(t, "unready endpoint used with publishNotReadyAddresses", client, ip, 80, "tcp", answeredBy("srv2"))
	e.update(t, "pnr", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = false })
	e.eventually(t, "unready endpoint dropped again", client, ip, 80, "tcp", outcome(framework.Refused))
}

// No endpoints: TCP and UDP are refused at once, from a pod, the host and (node port) the external host.
func (e *env) noEndpoints(t *testing.T) {
	s := e.service(t, "empty", selector("app", "nobody"), svcType(corev1.ServiceTypeNodePort),
		port("t", corev1.ProtocolTCP, 80, webPort), port("u", corev1.ProtocolUDP, 80, webPort))
	ip := s.Spec.ClusterIP
	client := e.podNS(t, e.client[1])
	e.eventually(t, "refused", client, ip, 80, "tcp", outcome(framework.Refused))
	// UDP is refused with an ICMP port unreachable, which the kernel rate-limits per destination
	// (icmp_ratelimit, 1/s after a burst of 6): the probe resends every 250 ms, and gets its
	// refusal within the next token.
	e.f.Matrix(t, []framework.Case{
		{Name: "client1 -> ClusterIP udp", Netns: client, Host: ip, Port: 80, Proto: "udp", Want: framework.Refused, Timeout: 2500 * time.Millisecond},
		{Name: "external -> node1 NodePort udp", Netns: e.f.ExternalNetns(), Host: e.nodeIP(1), Port: nodePortOf(s, "u"), Proto: "udp", Want: framework.Refused, Timeout: 2500 * time.Millisecond},
		{Name: "external -> node2 NodePort udp", Netns: e.f.ExternalNetns(), Host: e.nodeIP(2), Port: nodePortOf(s, "u"), Proto: "udp", Want: framework.Refused, Timeout: 2500 * time.Millisecond},
	})
	var cases []framework.Case
	for name, netns := range map[string]string{"client1": client, "node1": e.f.NodeNetns(1), "hostnet2": e.podNS(t, e.hostnet[2])} {
		cases = append(cases, framework.Case{Name: name + " -> ClusterIP tcp", Netns: netns, Host: ip, Port: 80, Proto: "tcp",
			Want: framework.Refused, Timeout: time.Second})
	}
	// The host's own UDP datagram is rejected in the output hook: the kernel fails the send itself
	// (EPERM) before the ICMP error arrives; either way the sender learns at once.
	for name, netns := range map[string]string{"node1": e.f.NodeNetns(1), "hostnet2": e.podNS(t, e.hostnet[2])} {
		reply, out := e.probe(netns, ip, 80, "udp", time.Second)
		if out != framework.Refused && !strings.Contains(reply, "operation not permitted") {
			t.Errorf("%s -> ClusterIP udp without endpoints: %s %q, want refused or EPERM", name, out, reply)
		}
	}
	for i := 1; i <= 2; i++ {
		cases = append(cases,
			framework.Case{Name: fmt.Sprintf("external -> node%d NodePort tcp", i), Netns: e.f.ExternalNetns(), Host: e.nodeIP(i),
				Port: nodePortOf(s, "t"), Proto: "tcp", Want: framework.Refused, Timeout: time.Second})
	}
	start := time.Now()
	e.f.Matrix(t, cases)
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("TCP refusals took %v: not at once", d)
	}
}

// Hairpin: a pod reaches itself through its own Service (TCP and UDP), alone and among other endpoints.
func (e *env) hairpin(t *testing.T) {
	s := e.service(t, "self", selector("name", "srv1"), port("t", corev1.ProtocolTCP, 80, webPort), port("u", corev1.ProtocolUDP, 80, webPort))
	both := e.service(t, "selfboth", selector("app", "web"), port("", corev1.ProtocolTCP, 80, webPort))
	netns := e.podNS(t, e.srv[1])
	e.eventually(t, "hairpin answers", netns, s.Spec.ClusterIP, 80, "tcp", connected)
	if seen := e.spread(t, netns, s.Spec.ClusterIP, 80, "tcp", 12); len(seen) != 1 || seen["srv1"] == 0 {
		t.Errorf("srv1 -> its own Service (tcp): replies %v, want srv1 every time", seen)
	}
	if seen := e.spread(t, netns, s.Spec.ClusterIP, 80, "udp", 12); len(seen) != 1 || seen["srv1"] == 0 {
		t.Errorf("srv1 -> its own Service (udp): replies %v, want srv1 every time", seen)
	}
	e.eventually(t, "Service answers", netns, both.Spec.ClusterIP, 80, "tcp", connected)
	wantBoth(t, "srv1 -> a Service of srv1 and srv2", e.spread(t, netns, both.Spec.ClusterIP, 80, "tcp", 24))
}

// A ClusterIP connection keeps the client pod's address (no SNAT), client and server on different nodes.
func (e *env) sourceIP(t *testing.T) {
	const listenPort = 9301
	peers := e.listen(t, e.srv[2], listenPort)
	s := e.service(t, "srcip", selector("name", "srv2"), port("", corev1.ProtocolTCP, 80, listenPort))
	if got, want := e.peer(t, peers, e.podNS(t, e.client[1]), s.Spec.ClusterIP, 80), e.client[1].Status.PodIP; got != want {
		t.Errorf("client1 -> ClusterIP -> srv2: the server saw %s, want the client pod's %s", got, want)
	}
}

var (
	statsRE    = regexp.MustCompile(`duration=([0-9.]+)s, `)
	idleRE     = regexp.MustCompile(`(idle_age|hard_age)=[0-9]+, `)
	groupIDRE  = regexp.MustCompile(`set_field:(0x[0-9a-f]+)->reg5`)
	bucketsRE  = regexp.MustCompile(`bucket=`)
	durationOf = func(l string) float64 {
		m := statsRE.FindStringSubmatch(l)
		if m == nil {
			return -1
		}
		d, _ := strconv.ParseFloat(m[1], 64)
		return d
	}
)

// serviceFlows are the ServiceLB and EndpointDNAT flows of the Service with ClusterIP ip on node i (by its group id)
// with their stats, and the group's id.
func (e *env) serviceFlows(i int, ip string) (flows []string, group string) {
	fl := e.flows(i)
	for _, l := range lines(fl, "nw_dst="+ip+",") {
		flows = append(flows, l)
		if m := groupIDRE.FindStringSubmatch(l); m != nil {
			group = m[1]
		}
	}
	if group != "" {
		flows = append(flows, lines(fl, "reg5="+group+",")...)
		flows = append(flows, lines(fl, "reg5="+group+" ")...)
	}
	sort.Strings(flows)
	return flows, group
}

func groupLine(groups, id string) string {
	n, _ := strconv.ParseUint(strings.TrimPrefix(id, "0x"), 16, 32)
	for _, l := range strings.Split(groups, "\n") {
		if strings.Contains(l, fmt.Sprintf("group_id=%d,", n)) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// An endpoint change rewrites only that Service's group and flows: another Service's flows keep their cookies,
// their packet counters and their age, and its group is unchanged.
func (e *env) incremental(t *testing.T) {
	changing := e.service(t, "inc-a", port("", corev1.ProtocolTCP, 80, webPort))
	other := e.service(t, "inc-b", selector("app", "web"), port("", corev1.ProtocolTCP, 80, webPort))
	e.slice(t, "inc-a", "", webPort, ep{pod: e.srv[1], ready: true, serving: true})
	client := e.podNS(t, e.client[1])
	e.eventually(t, "A answers", client, changing.Spec.ClusterIP, 80, "tcp", answeredBy("srv1"))
	e.eventually(t, "B answers", client, other.Spec.ClusterIP, 80, "tcp", connected)
	e.spread(t, client, other.Spec.ClusterIP, 80, "tcp", 8)
	time.Sleep(1500 * time.Millisecond) // the revalidators bring the counters up to date
	before, bGroup := e.serviceFlows(1, other.Spec.ClusterIP)
	_, aGroup := e.serviceFlows(1, changing.Spec.ClusterIP)
	if bGroup == "" || aGroup == "" || len(before) < 3 {
		t.Fatalf("node1: the Services' flows are not there (A group %q, B group %q):\n%s", aGroup, bGroup, strings.Join(before, "\n"))
	}
	groupsBefore := e.groups(1)
	if n := len(bucketsRE.FindAllString(groupLine(groupsBefore, aGroup), -1)); n != 1 {
		t.Fatalf("A's group %s has %d buckets, want 1: %s", aGroup, n, groupLine(groupsBefore, aGroup))
	}

	e.slice(t, "inc-a", "", webPort, ep{pod: e.srv[1], ready: true, serving: true}, ep{pod: e.srv[2], ready: true, serving: true})
	var groupsAfter string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if groupsAfter = e.groups(1); len(bucketsRE.FindAllString(groupLine(groupsAfter, aGroup), -1)) == 2 {
			break
		}
	}
	if n := len(bucketsRE.FindAllString(groupLine(groupsAfter, aGroup), -1)); n != 2 {
		t.Fatalf("A's group %s has %d buckets after the endpoint change, want 2: %s", aGroup, n, groupLine(groupsAfter, aGroup))
	}
	if fl := e.flows(1); len(lines(fl, fmt.Sprintf("nat(dst=%s:%d)", e.srv[2].Status.PodIP, webPort))) == 0 {
		t.Errorf("no EndpointDNAT flow for A's new endpoint")
	}
	after, _ := e.serviceFlows(1, other.Spec.ClusterIP)
	if g1, g2 := groupLine(groupsBefore, bGroup), groupLine(groupsAfter, bGroup); g1 != g2 {
		t.Errorf("B's group changed:\n  before %s\n  after  %s", g1, g2)
	}
	clean := func(l string) string { return idleRE.ReplaceAllString(statsRE.ReplaceAllString(l, ""), "") }
	strip := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = clean(l)
		}
		return out
	}
	// ovs-ofctl's dump order is not stable: pair the flows by their text without counters and durations.
	for _, ls := range [][]string{before, after} {
		sort.SliceStable(ls, func(i, j int) bool { return clean(ls[i]) < clean(ls[j]) })
	}
	b, a := strip(before), strip(after)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("B's flows (cookie, counters, match, actions) changed with A's endpoints:\nbefore:\n%s\nafter:\n%s",
			strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	for i := range before {
		if i < len(after) && durationOf(after[i]) < durationOf(before[i]) {
			t.Errorf("B's flow was re-added (its duration went back):\nbefore %s\nafter  %s", before[i], after[i])
		}
	}
}

// A Service labelled with another proxy's name gets no flows (until the label goes).
func (e *env) proxyNameIgnored(t *testing.T) {
	ign := e.service(t, "other-proxy", selector("app", "web"), port("", corev1.ProtocolTCP, 80, webPort),
		labels("service.kubernetes.io/service-proxy-name", "other"))
	ctl := e.service(t, "ign-control", selector("app", "web"), port("", corev1.ProtocolTCP, 80, webPort))
	for i := 1; i <= 2; i++ {
		e.waitFlows(t, i, "the control Service's flows", func(fl string) bool { return len(lines(fl, "nw_dst="+ctl.Spec.ClusterIP+",")) > 0 })
		if got := lines(e.flows(i), "nw_dst="+ign.Spec.ClusterIP+","); len(got) > 0 {
			t.Errorf("node%d has flows for a Service of another proxy:\n%s", i, strings.Join(got, "\n"))
		}
	}
	if _, out := e.probe(e.podNS(t, e.client[1]), ign.Spec.ClusterIP, 80, "tcp", time.Second); out == framework.Connected {
		t.Errorf("a Service of another proxy answered")
	}
	e.update(t, "other-proxy", func(s *corev1.Service) { delete(s.Labels, "service.kubernetes.io/service-proxy-name") })
	e.eventually(t, "the Service answers once the label is gone", e.podNS(t, e.client[1]), ign.Spec.ClusterIP, 80, "tcp", answeredBy("srv1", "srv2"))
}

// Headless Services (clusterIP None, or the service.kubernetes.io/headless label) get no flows.
func (e *env) headless(t *testing.T) {
	const headlessTarget, labelTarget, controlTarget = 8097, 8096, 8098
	e.service(t, "headless", selector("app", "web"), port("", corev1.ProtocolTCP, 80, headlessTarget),
		func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	lbl := e.service(t, "headless-label", selector("app", "web"), port("", corev1.ProtocolTCP, 80, labelTarget),
		labels(corev1.IsHeadlessService, ""))
	e.service(t, "headless-control", selector("app", "web"), port("", corev1.ProtocolTCP, 80, controlTarget))
	for i := 1; i <= 2; i++ {
		fl := e.waitFlows(t, i, "the control Service's endpoint flows", func(fl string) bool {
			return len(lines(fl, fmt.Sprintf("nat(dst=%s:%d)", e.srv[2].Status.PodIP, controlTarget))) > 0
		})
		for _, target := range []int{headlessTarget, labelTarget} {
			if got := lines(fl, fmt.Sprintf(":%d)", target)); len(got) > 0 {
				t.Errorf("node%d has endpoint flows of a headless Service (target port %d):\n%s", i, target, strings.Join(got, "\n"))
			}
		}
		if got := lines(fl, "nw_dst="+lbl.Spec.ClusterIP+","); len(got) > 0 {
			t.Errorf("node%d has flows for the ClusterIP of a Service labelled headless:\n%s", i, strings.Join(got, "\n"))
		}
	}
}
