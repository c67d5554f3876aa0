package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// churnWorkers cycles run at a time.
const churnWorkers = 12

// churnCycles is 500, or SWITCHYARD_E2E_CHURN for local runs.
func churnCycles(t *testing.T) int {
	if s := os.Getenv("SWITCHYARD_E2E_CHURN"); s != "" {
		k, err := strconv.Atoi(s)
		if err != nil || k < 2 {
			t.Fatalf("SWITCHYARD_E2E_CHURN=%q: want a number of cycles >= 2", s)
		}
		return k
	}
	return 500
}

// nodeState is what a node holds for its pods: IP allocations, br-int ports, veths, flows (without cookies) and
// groups.
type nodeState struct {
	ips, ports, veths, flows, groups []string
}

func stateOf(t *testing.T, n node) nodeState {
	return nodeState{ips: n.ipam(t), ports: n.ports(t), veths: n.veths(t), flows: nettest.WithoutCookies(n.flows(t)), groups: n.groups(t)}
}

func (s nodeState) diff(base nodeState) string {
	var out []string
	for _, x := range []struct {
		what    string
		a, b    []string
		details bool
	}{{"IP allocations", base.ips, s.ips, true}, {"br-int ports", base.ports, s.ports, true}, {"veths", base.veths, s.veths, true},
		{"flows", base.flows, s.flows, true}, {"groups", base.groups, s.groups, true}} {
		if d := nettest.MultisetDiff(x.a, x.b); d != "" {
			out = append(out, fmt.Sprintf("%s: %d, baseline %d:\n%s", x.what, len(x.b), len(x.a), lastLines(d, 15)))
		}
	}
	return strings.Join(out, "\n")
}

// conntrackOf returns node's conntrack entries that mention one of ips.
func conntrackOf(t *testing.T, n node, ips map[string]bool) []string {
	var hits []string
	for _, e := range n.conntrack(t) {
		for _, f := range strings.FieldsFunc(e, func(r rune) bool { return r == ',' || r == '(' || r == ')' }) {
			if k, v, ok := strings.Cut(f, "="); ok && (k == "src" || k == "dst") && ips[v] {
				hits = append(hits, strings.TrimSpace(e))
				break
			}
		}
	}
	return hits
}

// 500 pods are created and deleted across both nodes, 12 at a time; each is reached over TCP from a client pod on
// the other node (conntrack entries on both nodes) before its deletion. Afterwards every node holds exactly what it
// held before: the same IP allocations, br-int ports, veths, flows and groups, and no conntrack entry of a deleted
// pod's IP.
func TestPodChurn(t *testing.T) {
	f := framework.Get(t)
	ns := f.Namespace(t, "rel-churn", nil)
	clients := createPods(t, f, ns, []string{"client1", "client2"}, []framework.PodSpec{{Node: 1, TCP: []int32{8080}}, {Node: 2, TCP: []int32{8080}}})
	clientNS := []string{f.Netns(t, clients[0]), f.Netns(t, clients[1])}
	nodes := []node{nodeOf(f, 1), nodeOf(f, 2)}
	base := map[int]nodeState{}
	for _, n := range nodes {
		base[n.i] = stateOf(t, n)
	}
	cs := fastClient(t, f)

	var mu sync.Mutex
	churned := map[string]bool{}
	churnedOn := map[int]map[string]bool{1: {}, 2: {}}
	var errs []string
	var done, probed atomic.Int64
	next := atomic.Int64{}
	t0 := time.Now()
	cycles := churnCycles(t)
	var wg sync.WaitGroup
	for range churnWorkers {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= cycles {
					return
				}
				i := 1 + k%2
				ip, err := churnCycle(cs, f, ns, fmt.Sprintf("churn-%d", k), i, clientNS[2-i], &probed)
				mu.Lock()
				if ip != "" {
					churned[ip], churnedOn[i][ip] = true, true
				}
				if err != nil && len(errs) < 20 {
					errs = append(errs, err.Error())
				}
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(t0)
	for _, e := range errs {
		t.Error(e)
	}
	// Keep the clients' own IPs out: only deleted pods count.
	for _, c := range clients {
		delete(churned, c.Status.PodIP)
		delete(churnedOn[1], c.Status.PodIP)
		delete(churnedOn[2], c.Status.PodIP)
	}
	// A pod's own node flushes its connections when it is detached, the client's node when its agent sees the pod
	// deleted: none may be left on its own node at once, nor (below, after a few seconds) on the other.
	time.Sleep(2 * time.Second)
	local := map[int]int{}
	for _, n := range nodes {
		hits := conntrackOf(t, n, churnedOn[n.i])
		local[n.i] = len(hits)
		if len(hits) > 0 {
			t.Errorf("%s: %d conntrack entries of pods deleted on this node right after the churn, e.g.:\n%s", n.name(), len(hits), strings.Join(hits[:min(5, len(hits))], "\n"))
		}
	}
	remote, retrans2s := map[int]int{}, map[int]int{}
	for _, n := range nodes {
		rest, retrans := peerLeftovers(t, n, churnedOn[3-n.i], clients[n.i-1].Status.PodIP, clientNS[n.i-1])
		remote[n.i], retrans2s[n.i] = len(rest), len(retrans)
		if len(rest) > 0 { // recreated by the deleted pods' last packets; the agent's rechecks flush them
			t.Logf("%s: %d conntrack entries of the other node's deleted pods 2 s after the churn, e.g.:\n%s", n.name(), len(rest), strings.Join(rest[:min(5, len(rest))], "\n"))
		}
	}

	// Deletion is asynchronous at the end (CNI DEL after the kubelet stopped the workload): give it a few seconds.
	var left map[int]string
	var ct map[int][]string
	settle := time.Now()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		left, ct = map[int]string{}, map[int][]string{}
		clean := true
		for _, n := range nodes {
			if d := stateOf(t, n).diff(base[n.i]); d != "" {
				left[n.i], clean = d, false
			}
			if hits := conntrackOf(t, n, churnedOn[n.i]); len(hits) > 0 {
				ct[n.i], clean = hits, false
			}
		}
		if clean || time.Now().After(deadline) {
			break
		}
	}
	settled := time.Since(settle)
	// On the other node (the clients'), the agent flushes a deleted pod's entries when it sees the pod deleted,
	// then flushes again, by exact tuple, the entries that the pod's last packets recreate: these pods have a zero
	// grace period, so the API server removes them at once and the peer's flush runs before their kubelet has
	// stopped them (package podconntrack). Nothing may be left but entries that a live client socket keeps
	// recreating by retransmitting to the vanished address (SYN or FIN retries, until the kernel gives up).
	peerLeft, peerRetrans := map[int][]string{}, map[int][]string{}
	peerSettle := time.Now()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		clean := true
		for _, n := range nodes {
			peerLeft[n.i], peerRetrans[n.i] = peerLeftovers(t, n, churnedOn[3-n.i], clients[n.i-1].Status.PodIP, clientNS[n.i-1])
			clean = clean && len(peerLeft[n.i]) == 0
		}
		if clean || time.Now().After(deadline) {
			break
		}
	}
	peerSettled := time.Since(peerSettle) + settled + 2*time.Second
	for _, n := range nodes {
		if len(peerLeft[n.i]) > 0 {
			t.Errorf("%s: %d conntrack entries of the other node's deleted pods %v after the churn, e.g.:\n%s",
				n.name(), len(peerLeft[n.i]), peerSettled.Round(time.Second), strings.Join(peerLeft[n.i][:min(5, len(peerLeft[n.i]))], "\n"))
		}
		if len(peerRetrans[n.i]) > 0 {
			t.Logf("%s: %d entries of the other node's deleted pods kept by live client sockets' retransmissions:\n%s",
				n.name(), len(peerRetrans[n.i]), strings.Join(peerRetrans[n.i][:min(5, len(peerRetrans[n.i]))], "\n"))
		}
	}
	for _, n := range nodes {
		if left[n.i] != "" {
			t.Errorf("%s after the churn differs from its baseline:\n%s", n.name(), left[n.i])
		}
		if len(ct[n.i]) > 0 {
			sort.Strings(ct[n.i])
			t.Errorf("%s: %d conntrack entries of pods deleted on this node, e.g.:\n%s", n.name(), len(ct[n.i]), strings.Join(ct[n.i][:min(5, len(ct[n.i]))], "\n"))
		}
	}
	var counts []string
	for _, n := range nodes {
		b := base[n.i]
		counts = append(counts, fmt.Sprintf("%s %d IPs/%d ports/%d veths/%d flows/%d groups", n.name(), len(b.ips), len(b.ports), len(b.veths), len(b.flows), len(b.groups)))
	}
	leftover := 0
	for _, n := range nodes {
		leftover += len(ct[n.i])
		if left[n.i] != "" {
			leftover++
		}
	}
	figure(t, "pod churn: %d create/delete cycles (%d distinct IPs, %d reached over TCP from the other node) in %v with %d workers (%.1f cycles/s), %d errors; 2 s after: conntrack entries of deleted pods on their own node %d/%d (node1/node2), on the client's node %d/%d (+%d/%d of live clients' retransmissions); IPs, ports, veths, flows, groups and conntrack back to the baseline (%s) %v after the churn; leftovers: %d; entries of the other node's deleted pods: 0 after %v (+%d/%d of live clients' retransmissions)",
		done.Load(), len(churned), probed.Load(), took.Round(time.Second), churnWorkers, float64(done.Load())/took.Seconds(), len(errs),
		local[1], local[2], remote[1], remote[2], retrans2s[1], retrans2s[2], strings.Join(counts, ", "), (settled + 2*time.Second).Round(time.Second), leftover,
		peerSettled.Round(100*time.Millisecond), len(peerRetrans[1]), len(peerRetrans[2]))
}

// ctTupleRe reads an entry's protocol and original tuple.
var ctTupleRe = regexp.MustCompile(`^(\w+),orig=\(src=([0-9.]+),dst=([0-9.]+),sport=(\d+),dport=(\d+)\)`)

// peerLeftovers are n's conntrack entries of the other node's deleted pods (gone), split into those a live client
// socket recreates and the rest. An entry is a retransmission when its original side is the client of n (clientIP)
// and the client's namespace holds a TCP socket with that tuple in a state that (re)transmits without an answer:
// SYN-SENT, FIN-WAIT-1, CLOSING or LAST-ACK.
func peerLeftovers(t *testing.T, n node, gone map[string]bool, clientIP, clientNS string) (rest, retrans []string) {
	hits := conntrackOf(t, n, gone)
	if len(hits) == 0 {
		return nil, nil
	}
	out, err := exec.Command("ip", "netns", "exec", clientNS, "ss", "-tanH").CombinedOutput()
	if err != nil {
		t.Fatalf("ss in %s: %v\n%s", clientNS, err, out)
	}
	live := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 5 && slices.Contains([]string{"SYN-SENT", "FIN-WAIT-1", "CLOSING", "LAST-ACK"}, f[0]) {
			live[f[3]+" "+f[4]] = true
		}
	}
	for _, h := range hits {
		if m := ctTupleRe.FindStringSubmatch(h); m != nil && m[1] == "tcp" && m[2] == clientIP && live[m[2]+":"+m[4]+" "+m[3]+":"+m[5]] {
			retrans = append(retrans, h)
		} else {
			rest = append(rest, h)
		}
	}
	return rest, retrans
}

// fastClient is a clientset without the framework's rate limits (the churn makes hundreds of requests a second).
func fastClient(t *testing.T, f *framework.Framework) kubernetes.Interface {
	rc, err := clientcmd.BuildConfigFromFlags("", f.Lab.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// churnCycle creates a pod on node i, waits for it to be ready, connects to it from clientNS, deletes it and waits
// until it is gone. It returns the pod's IP (if it got one).
func churnCycle(cs kubernetes.Interface, f *framework.Framework, ns, name string, i int, clientNS string, probed *atomic.Int64) (string, error) {
	ctx := context.Background()
	grace := int64(0)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "lab/builtin-server",
				Ports: []corev1.ContainerPort{{Name: "tcp", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
			TerminationGracePeriodSeconds: &grace,
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": f.Lab.Plan.NodeName(i)},
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("%s: create: %v", name, err)
	}
	ip := ""
	var cycleErr error
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && got.Status.PodIP != "" {
			ip = got.Status.PodIP
			if got.Status.Phase == corev1.PodRunning && podIsReady(got) {
				break
			}
		}
		if time.Now().After(deadline) {
			cycleErr = fmt.Errorf("%s on node%d: not ready after 90s", name, i)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cycleErr == nil {
		if reply, out := probeRetry(clientNS, ip, 8080, 3); out != framework.Connected || reply != name {
			cycleErr = fmt.Errorf("%s on node%d (%s): TCP from the other node: %s %q", name, i, ip, out, reply)
		} else {
			probed.Add(1)
		}
	}
	if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return ip, fmt.Errorf("%s: delete: %v", name, err)
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			return ip, fmt.Errorf("%s: still there 90s after its deletion", name)
		}
	}
	return ip, cycleErr
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
