// Package crossnode holds the cross-node e2e suite (issue 4), run against one lab per traffic mode by the packages
// geneve, vxlan, noencap and hybrid: every pod reaches every other pod (ICMP, TCP, UDP), nodes reach pods and pods
// reach nodes without NAT, pods reach an external host as their node, a Node added or deleted in the API updates
// every other node, and an underlay capture shows encapsulation exactly where the mode says.
package crossnode

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// Ports of the test pods' built-in servers.
const (
	tcpPort  = 8080
	udpPort  = 8081
	hostPort = 18080 // the hostNetwork pods' (node) servers
)

// Lab returns the lab options of a mode: 3 nodes, flat, except hybrid on two subnets. Each mode gets its own
// address ranges so that the packages can run at the same time.
func Lab(mode, tunnel string, third int) framework.LabOptions {
	o := framework.DefaultLab()
	o.Mode, o.Tunnel = mode, tunnel
	if mode == "hybrid" {
		o.Topology = "two-subnets"
	}
	o.UnderlayCIDR = fmt.Sprintf("192.168.%d.0/24", 100+third)
	o.Underlay2 = fmt.Sprintf("192.168.%d.0/24", 110+third)
	o.ClusterCIDR = fmt.Sprintf("10.%d.0.0/16", 200+third)
	o.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 210+third)
	return o
}

// Main is a mode package's TestMain.
func Main(m *testing.M, o framework.LabOptions) { framework.Main(m, o) }

// env is a running suite: the lab, a namespace, a server pod and a hostNetwork server per node.
type env struct {
	f     *framework.Framework
	ns    string
	nodes int
	pods  []*corev1.Pod // pods[i-1] runs on node i
	hosts []*corev1.Pod // hostNetwork servers
	mode  string
}

func setup(t *testing.T) *env {
	f := framework.Get(t)
	e := &env{f: f, nodes: f.Lab.Plan.Nodes, mode: f.Lab.Options.Mode}
	e.ns = f.Namespace(t, "crossnode", nil)
	for i := 1; i <= e.nodes; i++ {
		e.pods = append(e.pods, f.CreatePod(t, e.ns, fmt.Sprintf("pod-n%d", i),
			framework.PodSpec{Node: i, TCP: []int32{tcpPort}, UDP: []int32{udpPort}}))
		e.hosts = append(e.hosts, f.CreatePod(t, e.ns, fmt.Sprintf("host-n%d", i),
			framework.PodSpec{Node: i, HostNetwork: true, TCP: []int32{hostPort}}))
	}
	return e
}

// Run runs the whole suite against the package's lab.
func Run(t *testing.T) {
	e := setup(t)
	t.Run("PodToPod", e.podToPod)
	t.Run("NodeAndPod", e.nodeAndPod)
	t.Run("External", e.external)
	t.Run("Underlay", e.underlay)
	t.Run("Offloads", e.offloads)
	t.Run("NodeAddDelete", e.nodeAddDelete)
}

// Every pod reaches every pod (its own node's and the others') over ICMP, TCP and UDP, and sees the client's own
// address (no NAT).
func (e *env) podToPod(t *testing.T) {
	var cases []framework.Case
	for _, src := range e.pods {
		srcNS := e.f.Netns(t, src)
		for _, dst := range e.pods {
			if err := framework.Ping(srcNS, dst.Status.PodIP, 3); err != nil {
				t.Errorf("ICMP %s -> %s: %v", src.Name, dst.Name, err)
			}
			for _, proto := range []string{"tcp", "udp"} {
				port := tcpPort
				if proto == "udp" {
					port = udpPort
				}
				cases = append(cases, framework.Case{Name: fmt.Sprintf("%s -> %s %s", src.Name, dst.Name, proto),
					Netns: srcNS, Host: dst.Status.PodIP, Port: port, Proto: proto, Want: framework.Connected, Reply: dst.Name})
			}
		}
	}
	e.f.Matrix(t, cases)
	// Full-size don't-fragment pings cross the tunnel (pod MTU = underlay MTU - overhead).
	mtu := 1500
	if e.mode != "noEncap" {
		mtu -= 50
	}
	if err := framework.Ping(e.f.Netns(t, e.pods[0]), e.pods[len(e.pods)-1].Status.PodIP, 2, "-M", "do", "-s", fmt.Sprint(mtu-28)); err != nil {
		t.Errorf("full-size DF ping across nodes at MTU %d: %v", mtu, err)
	}
	// No NAT: the server sees the client pod's address.
	e.peerSeen(t, e.f.Netns(t, e.pods[0]), e.pods[len(e.pods)-1], e.pods[0].Status.PodIP)
}

// peerSeen checks that a TCP connection from netns to the server pod arrives from want: the server's namespace gets
// a temporary listener that reports the peer address.
func (e *env) peerSeen(t *testing.T, fromNS string, server *corev1.Pod, want string) {
	t.Helper()
	got := acceptFrom(t, "/run/netns/"+e.f.Netns(t, server), fromNS, server.Status.PodIP)
	if got != want {
		t.Errorf("a connection from %s to %s arrived from %s, want %s", fromNS, server.Name, got, want)
	}
}

// acceptFrom listens on an ephemeral port in the namespace at nsPath, connects to it from namespace fromNS
// (addressing dst), and returns the peer address the listener saw.
func acceptFrom(t *testing.T, nsPath, fromNS, dst string) string {
	t.Helper()
	var ln net.Listener
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp4", ":0")
		return err
	})
	if err != nil {
		t.Fatalf("listening in %s: %v", nsPath, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			seen <- "accept: " + err.Error()
			return
		}
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	if _, out := e2eProbe(t, fromNS, dst, port); out != framework.Connected {
		t.Fatalf("connecting from %s to %s:%d: %s", fromNS, dst, port, out)
	}
	select {
	case s := <-seen:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("no connection reached %s:%d", dst, port)
		return ""
	}
}

func e2eProbe(t *testing.T, fromNS, host string, port int) (string, framework.Outcome) {
	var reply string
	var out framework.Outcome
	for try := 0; try < 3; try++ {
		reply, out = framework.Get(t).Probe(t, fromNS, host, port, "tcp", 2*time.Second)
		if out == framework.Connected {
			break
		}
	}
	return reply, out
}

// Nodes reach every pod; pods reach every node (the hostNetwork servers), without NAT either way.
func (e *env) nodeAndPod(t *testing.T) {
	var cases []framework.Case
	for i := 1; i <= e.nodes; i++ {
		nodeNS := e.f.NodeNetns(i)
		nodeIP := e.f.Lab.Plan.NodeIP(i).String()
		for _, p := range e.pods {
			if err := framework.Ping(nodeNS, p.Status.PodIP, 2); err != nil {
				t.Errorf("ICMP node%d -> %s: %v", i, p.Name, err)
			}
			cases = append(cases,
				framework.Case{Name: fmt.Sprintf("node%d -> %s tcp", i, p.Name), Netns: nodeNS, Host: p.Status.PodIP,
					Port: tcpPort, Proto: "tcp", Want: framework.Connected, Reply: p.Name},
				framework.Case{Name: fmt.Sprintf("%s -> node%d tcp", p.Name, i), Netns: e.f.Netns(t, p), Host: nodeIP,
					Port: hostPort, Proto: "tcp", Want: framework.Connected, Reply: e.hosts[i-1].Name})
			if err := framework.Ping(e.f.Netns(t, p), nodeIP, 2); err != nil {
				t.Errorf("ICMP %s -> node%d: %v", p.Name, i, err)
			}
		}
	}
	e.f.Matrix(t, cases)
	// A pod's connection to another node arrives from the pod's address.
	last := e.nodes
	if got := acceptFrom(t, "/run/netns/"+e.f.NodeNetns(last), e.f.Netns(t, e.pods[0]), e.f.Lab.Plan.NodeIP(last).String()); got != e.pods[0].Status.PodIP {
		t.Errorf("pod-n1 -> node%d arrived from %s, want the pod's %s", last, got, e.pods[0].Status.PodIP)
	}
}

// Pods reach a host outside the cluster, which sees their node's address (SNAT).
func (e *env) external(t *testing.T) {
	ext := "/run/netns/" + e.f.ExternalNetns()
	for i, p := range e.pods {
		got := acceptFrom(t, ext, e.f.Netns(t, p), e.f.Lab.Plan.ExternalIP().String())
		if want := e.f.Lab.Plan.NodeIP(i + 1).String(); got != want {
			t.Errorf("%s -> external host arrived from %s, want its node's address %s", p.Name, got, want)
		}
	}
}

// A capture on node 1's underlay port shows pod packets to each peer encapsulated or plain as the mode says.
func (e *env) underlay(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	src := e.pods[0]
	srcNS := e.f.Netns(t, src)
	plan := e.f.Lab.Plan
	for i := 2; i <= e.nodes; i++ {
		dst := e.pods[i-1]
		wantEncap := e.mode == "encap" || (e.mode == "hybrid" && plan.NodeSubnet(i).String() != plan.NodeSubnet(1).String())
		capture := e.capture(t, "n1e0", func() {
			if err := framework.Ping(srcNS, dst.Status.PodIP, 3); err != nil {
				t.Errorf("ICMP %s -> %s: %v", src.Name, dst.Name, err)
			}
		})
		inner := fmt.Sprintf("IP %s > %s: ICMP echo request", src.Status.PodIP, dst.Status.PodIP)
		var encapLine, plainLine bool
		prev := ""
		for _, line := range strings.Split(capture, "\n") {
			outer := prev
			prev = line
			if !strings.Contains(line, inner) {
				continue
			}
			// tcpdump prints a VXLAN packet's inner header on the next line.
			if strings.Contains(outer, ": VXLAN") && !strings.Contains(outer, inner) {
				line = outer + " " + line
			}
			if strings.Contains(line, "Geneve") || strings.Contains(line, "VXLAN") {
				encapLine = true
				tunnel := "Geneve"
				if e.f.Lab.Options.Tunnel == "vxlan" {
					tunnel = "VXLAN"
				}
				if !strings.Contains(line, tunnel) {
					t.Errorf("node1 -> node%d: encapsulated with the wrong tunnel type (want %s): %s", i, tunnel, line)
				}
			} else {
				plainLine = true
			}
		}
		switch {
		case wantEncap && (!encapLine || plainLine):
			t.Errorf("mode %s, node1 -> node%d: want only encapsulated pod packets on the underlay, capture:\n%s", e.mode, i, capture)
		case !wantEncap && (encapLine || !plainLine):
			t.Errorf("mode %s, node1 -> node%d: want only plain pod packets on the underlay, capture:\n%s", e.mode, i, capture)
		}
	}
}

// capture runs tcpdump on an interface of the underlay namespace while fn runs and returns what it printed.
func (e *env) capture(t *testing.T, ifname string, fn func()) string {
	t.Helper()
	out, err := os.CreateTemp("", "sycap")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command("ip", "netns", "exec", e.f.Lab.Plan.UnderlayNS(), "tcpdump", "-nn", "-l", "-i", ifname, "icmp or udp")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // tcpdump attaches
	fn()
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	b, _ := os.ReadFile(out.Name())
	return string(b)
}

// A Node created in the API (a peer with a pod CIDR and an InternalIP) appears on every node as flows and a route
// of the kind the mode says, and disappears from every node when it is deleted.
func (e *env) nodeAddDelete(t *testing.T) {
	ctx := context.Background()
	plan := e.f.Lab.Plan
	ghostIP := hostAddr(plan.UnderlayA, 250)
	_, cluster, _ := net.ParseCIDR(e.f.Lab.Options.ClusterCIDR)
	ghostCIDR := fmt.Sprintf("%d.%d.250.0/24", cluster.IP[0], cluster.IP[1])
	name := fmt.Sprintf("ghost-%d", time.Now().UnixNano()%100000)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.NodeSpec{PodCIDR: ghostCIDR, PodCIDRs: []string{ghostCIDR},
			Taints: []corev1.Taint{{Key: "switchyard.io/e2e-ghost", Effect: corev1.TaintEffectNoSchedule}}}}
	nodes := e.f.Client.CoreV1().Nodes()
	if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nodes.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	// The controller-manager updates new Nodes too: retry on conflicts.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ghostIP}}
		_, err = nodes.UpdateStatus(ctx, got, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("setting the InternalIP of %s: %v", name, err)
	}
	for i := 1; i <= e.nodes; i++ {
		encap := e.mode == "encap" || (e.mode == "hybrid" && plan.NodeSubnet(i).String() != plan.UnderlayA.String())
		wantRoute := "via " + ghostIP
		if encap {
			wantRoute = fmt.Sprintf("via %s dev switchyard-gw0 proto 94 onlink", strings.TrimSuffix(ghostCIDR, "0/24")+"1")
		}
		e.waitNode(t, i, fmt.Sprintf("route and flows of %s (encap %v)", name, encap), func(routes, flows string) bool {
			f := flowsOf(flows, ghostCIDR)
			return strings.Contains(routeOf(routes, ghostCIDR), wantRoute) && f != "" &&
				strings.Contains(f, "set_field:"+ghostIP+"->tun_dst") == encap
		})
	}
	if err := nodes.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= e.nodes; i++ {
		e.waitNode(t, i, "removal of "+name, func(routes, flows string) bool {
			return routeOf(routes, ghostCIDR) == "" && flowsOf(flows, ghostCIDR) == ""
		})
	}
}

func routeOf(routes, cidr string) string {
	for _, l := range strings.Split(routes, "\n") {
		if strings.HasPrefix(l, cidr+" ") {
			return l
		}
	}
	return ""
}

func flowsOf(flows, cidr string) string {
	var out []string
	for _, l := range strings.Split(flows, "\n") {
		if strings.Contains(l, "nw_dst="+cidr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

// waitNode polls node i's routes and br-int flows until ok accepts them (10 s).
func (e *env) waitNode(t *testing.T, i int, what string, ok func(routes, flows string) bool) {
	t.Helper()
	var routes, flows string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r, _ := exec.Command("ip", "-n", e.f.NodeNetns(i), "route").CombinedOutput()
		cmd := exec.Command("ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "br-int", "--no-stats")
		cmd.Env = append(os.Environ(), "OVS_RUNDIR="+filepath.Join(e.f.Lab.NodeDir(i), "ovs"))
		fl, _ := cmd.CombinedOutput()
		routes, flows = string(r), string(fl)
		if ok(routes, flows) {
			return
		}
	}
	t.Errorf("node%d: %s not seen within 10s\nroutes:\n%s\nflows:\n%s", i, what, routes, flows)
}

func hostAddr(n *net.IPNet, i byte) string {
	ip := n.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+i).String()
}
