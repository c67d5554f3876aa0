package observability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/agent/droplog"
	"github.com/switchyard-net/switchyard/agent/networkpolicy"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// logField reads key's value from a logrus text line (quoted or not).
func logField(line, key string) string {
	m := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=("(?:[^"\\]|\\.)*"|\S+)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"`)
}

// deniedLines are the denied-connection lines of a node's agent log after offset whose dst is dst.
func deniedLines(t *testing.T, f *framework.Framework, node, offset int, dst string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.Lab.NodeDir(node), "proc", "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b[min(offset, len(b)):]), "\n") {
		if logField(l, "msg") == droplog.Message && logField(l, "dst") == dst {
			out = append(out, l)
		}
	}
	return out
}

func agentLogSize(t *testing.T, f *framework.Framework, node int) int {
	t.Helper()
	st, err := os.Stat(filepath.Join(f.Lab.NodeDir(node), "proc", "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Size())
}

// sendUDP sends n datagrams from a pod's namespace to addr:port as fast as bash can.
func sendUDP(t *testing.T, netns, addr string, port, n int) {
	t.Helper()
	script := fmt.Sprintf("for i in $(seq %d); do echo x > /dev/udp/%s/%d; done", n, addr, port)
	if out, err := exec.Command("ip", "netns", "exec", netns, "bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sending UDP: %v: %s", err, out)
	}
}

// A NetworkPolicy annotated switchyard.io/log-denied isolates a server on node1: one datagram from a client on
// node2 gives exactly one log line on node1 naming the pod, the direction, the policy and both pods; a flood is
// cut to about deniedLogRate (10) lines per second, and the line after the cut says how many were left out.
func TestDeniedConnectionIsLogged(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	ns := f.Namespace(t, "droplog", nil)
	server := f.CreatePod(t, ns, "server", framework.PodSpec{Node: 1, Labels: map[string]string{"app": "server"}, UDP: []int32{5353}})
	client := f.CreatePod(t, ns, "client", framework.PodSpec{Node: 2, Labels: map[string]string{"app": "client"}})
	clientNetns := f.Netns(t, client)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-server", Namespace: ns,
			Annotations: map[string]string{networkpolicy.LogDeniedAnnotation: "true"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	if _, err := f.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := server.Status.PodIP + ":5353"
	// The policy is in force once a probe is denied; from then on a datagram gives one line.
	eventually(t, "the server isolated", func() (bool, string) {
		_, out := f.Probe(t, clientNetns, server.Status.PodIP, 5353, "udp", time.Second)
		return out != framework.Connected, fmt.Sprint(out)
	})
	time.Sleep(1500 * time.Millisecond) // refill the bucket after the probes' lines
	offset := agentLogSize(t, f, 1)
	sendUDP(t, clientNetns, server.Status.PodIP, 5353, 1)
	time.Sleep(2 * time.Second)
	lines := deniedLines(t, f, 1, offset, dst)
	if len(lines) != 1 {
		diagnose(t, f)
		t.Fatalf("one denied datagram gave %d log lines on node1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	t.Logf("log line: %s", lines[0])
	for k, want := range map[string]string{"direction": "ingress", "pod": ns + "/server", "policies": ns + "/deny-server",
		"proto": "udp", "srcPod": ns + "/client", "dstPod": ns + "/server", "node": f.Lab.Plan.NodeName(1), "suppressed": "0"} {
		if got := logField(lines[0], k); got != want {
			t.Errorf("field %s = %q, want %q", k, got, want)
		}
	}
	if src := logField(lines[0], "src"); !strings.HasPrefix(src, client.Status.PodIP+":") {
		t.Errorf("src %q is not the client's address", src)
	}

	// A flood of 300 datagrams: at most the burst (10) plus 10 per second of the flood and the wait.
	time.Sleep(1500 * time.Millisecond)
	offset = agentLogSize(t, f, 1)
	t0 := time.Now()
	sendUDP(t, clientNetns, server.Status.PodIP, 5353, 300)
	took := time.Since(t0)
	time.Sleep(1500 * time.Millisecond)
	sendUDP(t, clientNetns, server.Status.PodIP, 5353, 1) // a line after the cut, with its count
	time.Sleep(time.Second)
	lines = deniedLines(t, f, 1, offset, dst)
	limit := 10 + int(10*(took+2500*time.Millisecond).Seconds()) + 2
	t.Logf("FIGURE: 300 denied datagrams in %v gave %d log lines on node1 (limit %d)", took.Round(time.Millisecond), len(lines), limit)
	if len(lines) < 10 || len(lines) > limit {
		t.Errorf("%d lines for a flood of 300, want 10..%d", len(lines), limit)
	}
	// The rest were cut by the meter before they reached the agent (its band counts them: the metric's by="meter").
	cmd := exec.Command("ovs-ofctl", "-O", "OpenFlow15", "meter-stats", "br-int", "meter=1")
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+filepath.Join(f.Lab.NodeDir(1), "ovs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("meter-stats: %v: %s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\s*0: packet_count:(\d+)`).FindStringSubmatch(string(out))
	var cut int
	if m != nil {
		fmt.Sscan(m[1], &cut)
	}
	t.Logf("FIGURE: the meter dropped %d datagrams on their way to the agent", cut)
	// The logged drop flow still counts every denied packet (switchyard_denied_packets_total reads it).
	cmd = exec.Command("ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "br-int", "table=70")
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+filepath.Join(f.Lab.NodeDir(1), "ovs"))
	if out, err = cmd.CombinedOutput(); err != nil {
		t.Fatalf("dump-flows: %v: %s", err, out)
	}
	var counted int
	if m := regexp.MustCompile(`n_packets=(\d+),.*actions=meter:1,CONTROLLER:128`).FindStringSubmatch(string(out)); m != nil {
		fmt.Sscan(m[1], &counted)
	}
	// The meter's and the flow's counters are cumulative over the whole test (and a flood this fast may lose
	// datagrams before OVS sees them), so they are not compared with the datagrams sent: the meter must have cut
	// some, and the flow must count more packets than were logged (denials are counted whether logged or not).
	t.Logf("FIGURE: the logged drop flow counted %d packets over the test", counted)
	if cut == 0 {
		t.Errorf("the meter cut nothing of a flood of 300:\n%s", out)
	}
	if counted <= len(lines) {
		t.Errorf("the logged drop flow counted %d packets, not more than the %d logged:\n%s", counted, len(lines), out)
	}
}

// diagnose logs node1's policy drop flows, its meter and what its agent said about logging denials.
func diagnose(t *testing.T, f *framework.Framework) {
	t.Helper()
	dir := filepath.Join(f.Lab.NodeDir(1), "ovs")
	for _, args := range [][]string{{"dump-flows", "br-int", "table=70"}, {"dump-flows", "br-int", "table=45"}, {"meter-stats", "br-int"}} {
		cmd := exec.Command("ovs-ofctl", append([]string{"-O", "OpenFlow15"}, args...)...)
		cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir)
		out, err := cmd.CombinedOutput()
		t.Logf("ovs-ofctl %v: %v\n%s", args, err, out)
	}
	b, _ := os.ReadFile(filepath.Join(f.Lab.NodeDir(1), "proc", "agent.log"))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "droplog") || strings.Contains(l, "meter") || strings.Contains(l, "denied") {
			t.Log(l)
		}
	}
}
