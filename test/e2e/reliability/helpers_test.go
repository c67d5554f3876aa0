// Package reliability holds the e2e tests of issue 9 (hitless restarts and fault tolerance) on a 2-node lab:
// agent kill -9 and upgrade under traffic, ovs-vswitchd and ovsdb-server restarts, the API server down, pod churn,
// CNI while the agent is down, and spoofing across nodes. Every test prints its figure (t.Logf and a "FIGURE" line);
// docs/reliability.md collects them.
package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/lab/forward"
	"github.com/switchyard-net/switchyard/test/lab/workload"
	"github.com/switchyard-net/switchyard/test/nettest"
)

func TestMain(m *testing.M) {
	o := framework.DefaultLab()
	o.Nodes = 2
	o.UnderlayCIDR, o.Underlay2 = "192.168.150.0/24", "192.168.151.0/24"
	o.ClusterCIDR, o.ServiceCIDR = "10.150.0.0/16", "10.151.0.0/16"
	framework.Main(m, o)
}

// figure reports a measured figure in the test log and as a line of its own on stdout.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Log("FIGURE: " + msg)
	fmt.Printf("FIGURE %s: %s\n", t.Name(), msg)
}

// ---- one lab node ----

type node struct {
	f *framework.Framework
	i int
}

func nodeOf(f *framework.Framework, i int) node { return node{f: f, i: i} }

func (n node) name() string   { return n.f.Lab.Plan.NodeName(n.i) }
func (n node) netns() string  { return n.f.Lab.Plan.NodeNS(n.i) }
func (n node) ovsDir() string { return filepath.Join(n.f.Lab.NodeDir(n.i), "ovs") }
func (n node) dbSock() string { return filepath.Join(n.ovsDir(), "db.sock") }
func (n node) ovsEnv() []string {
	d := n.ovsDir()
	return append(os.Environ(), "OVS_RUNDIR="+d, "OVS_DBDIR="+d, "OVS_LOGDIR="+d, "OVS_SYSCONFDIR="+d)
}
func (n node) agentLog() string { return filepath.Join(n.f.Lab.NodeDir(n.i), "proc", "agent.log") }

func (n node) run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = n.ovsEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s %v: %v\n%s", n.name(), name, args, err, out)
	}
	return string(out)
}

// flows are br-int's flows without statistics, sorted.
func (n node) flows(t testing.TB) []string {
	t.Helper()
	var fl []string
	for _, l := range strings.Split(n.run(t, "ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "br-int", "--no-stats"), "\n") {
		if strings.Contains(l, "actions=") {
			fl = append(fl, strings.TrimSpace(l))
		}
	}
	sort.Strings(fl)
	return fl
}

func (n node) groups(t testing.TB) []string {
	t.Helper()
	var gs []string
	for _, l := range strings.Split(n.run(t, "ovs-ofctl", "-O", "OpenFlow15", "dump-groups", "br-int"), "\n") {
		if strings.Contains(l, "group_id=") {
			gs = append(gs, strings.TrimSpace(l))
		}
	}
	sort.Strings(gs)
	return gs
}

func (n node) ports(t testing.TB) []string {
	t.Helper()
	return strings.Fields(n.run(t, "ovs-vsctl", "--db=unix:"+n.dbSock(), "list-ports", "br-int"))
}

// veths are the veth interfaces in the node's namespace (the host side of pods).
func (n node) veths(t testing.TB) []string {
	t.Helper()
	var vs []string
	for _, l := range strings.Split(n.run(t, "ip", "-n", n.netns(), "-o", "link", "show", "type", "veth"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			vs = append(vs, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	sort.Strings(vs)
	return vs
}

// ipam lists the node's IP allocations (one file per IP).
func (n node) ipam(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(n.f.Lab.NodeDir(n.i), "agent", "ipam", "*", "*.*.*.*"))
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, f := range files {
		ips = append(ips, filepath.Base(f))
	}
	sort.Strings(ips)
	return ips
}

func (n node) conntrack(t testing.TB) []string {
	t.Helper()
	out := n.run(t, "ovs-appctl", "-t", filepath.Join(n.ovsDir(), "ovs-vswitchd.ctl"), "dpctl/dump-conntrack")
	var cs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			cs = append(cs, l)
		}
	}
	return cs
}

func (n node) agentPid(t testing.TB) int {
	t.Helper()
	pid, ok := n.f.Lab.AgentPid(n.i)
	if !ok {
		t.Fatalf("%s: the agent is not running", n.name())
	}
	return pid
}

func (n node) logSize() int64 {
	st, err := os.Stat(n.agentLog())
	if err != nil {
		return 0
	}
	return st.Size()
}

var reconcileField = regexp.MustCompile(`msg="flows reconciled".* reconcile=(\S+)`)

// waitAgentReady waits for the agent's log, from offset on, to say "agent ready" and returns when it was seen and
// the reconcile time of that start ("flows reconciled ... reconcile=").
func (n node) waitAgentReady(t testing.TB, offset int64, timeout time.Duration) (time.Time, time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(n.agentLog())
		if int64(len(b)) > offset {
			tail := string(b[offset:])
			if strings.Contains(tail, `msg="agent ready"`) {
				seen := time.Now()
				var rec time.Duration
				if m := reconcileField.FindStringSubmatch(tail); m != nil {
					rec, _ = time.ParseDuration(m[1])
				}
				return seen, rec
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(n.agentLog())
	t.Fatalf("%s: the agent was not ready within %v; its log since the start:\n%s", n.name(), timeout, lastLines(string(b[min(offset, int64(len(b))):]), 30))
	return time.Time{}, 0
}

func lastLines(s string, k int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > k {
		l = l[len(l)-k:]
	}
	return strings.Join(l, "\n")
}

// metrics scrapes the agent's /metrics from inside the node's namespace.
func (n node) metrics(t testing.TB) map[string]float64 {
	t.Helper()
	m, err := n.tryMetrics()
	if err != nil {
		t.Fatalf("%s: scraping the agent: %v", n.name(), err)
	}
	return m
}

func (n node) tryMetrics() (map[string]float64, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, a string) (net.Conn, error) {
			return forward.Dial(ctx, "/run/netns/"+n.netns(), a)
		}}}
	resp, err := client.Get("http://127.0.0.1:9830/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, lastLines(string(b), 3))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out, nil
}

// ---- flows and cookies ----

// checkReconciled checks that node's flows are, apart from cookies, the same set as before (nothing stale, nothing
// duplicated), all of one cookie round that the flows before did not use. It polls a few seconds: the agent
// reports ready right after its reconcile, the deletion of other rounds included, but the caller may be quicker.
func checkReconciled(t *testing.T, n node, before []string) {
	t.Helper()
	var after []string
	var d string
	var rs map[uint64]int
	old := nettest.CookieRounds(before)
	ok := func() bool {
		after = n.flows(t)
		d, rs = nettest.MultisetDiff(nettest.WithoutCookies(before), nettest.WithoutCookies(after)), nettest.CookieRounds(after)
		if d != "" || len(rs) != 1 {
			return false
		}
		for r := range rs {
			if old[r] > 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !ok() && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	if d != "" {
		t.Errorf("%s: flows (without cookies) changed across the restart:\n%s", n.name(), d)
	}
	if len(rs) != 1 {
		t.Errorf("%s: after the reconcile the flows carry %d cookie rounds (%s), want exactly 1: stale flows left", n.name(), len(rs), nettest.RoundList(rs))
	}
	for r := range rs {
		if old[r] > 0 && len(old) == 1 {
			t.Errorf("%s: the new agent kept round %#x of the old one", n.name(), r)
		}
	}
	t.Logf("%s: %d flows, rounds before %s, after %s", n.name(), len(after), nettest.RoundList(old), nettest.RoundList(rs))
}

// ---- pods and traffic ----

// createPods creates pods in parallel and returns them in order.
func createPods(t *testing.T, f *framework.Framework, ns string, names []string, specs []framework.PodSpec) []*corev1.Pod {
	t.Helper()
	out := make([]*corev1.Pod, len(names))
	var wg sync.WaitGroup
	for k := range names {
		wg.Go(func() { out[k] = f.CreatePod(t, ns, names[k], specs[k]) })
	}
	wg.Wait()
	for _, p := range out {
		if p == nil {
			t.FailNow()
		}
	}
	return out
}

// pinger is a running `ping -D` every interval; its replies are counted by sequence number.
type pinger struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	what string
}

func startPing(t *testing.T, what, netns, dst string, interval string) *pinger {
	t.Helper()
	p := &pinger{what: what}
	p.cmd = exec.Command("ip", "netns", "exec", netns, "ping", "-D", "-i", interval, "-W", "1", dst)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop() })
	return p
}

var replyLine = regexp.MustCompile(`^\[(\d+\.\d+)\] .*icmp_seq=(\d+) `)

// pingResult: sent counts the sequence numbers up to the highest answered one (packets in flight when the pinger
// stopped are not counted as lost); replies are the answer times in order.
type pingResult struct {
	sent, lost int
	replies    []time.Time
	lostAt     []string // "seq N ~ hh:mm:ss.mmm" (between its neighbours' replies)
}

func (p *pinger) stop() pingResult {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		_ = p.cmd.Wait()
	}
	seen := map[int]time.Time{}
	var r pingResult
	maxSeq := 0
	for _, l := range strings.Split(p.out.String(), "\n") {
		m := replyLine.FindStringSubmatch(l)
		if m == nil || strings.Contains(l, "DUP!") {
			continue
		}
		seq, _ := strconv.Atoi(m[2])
		if _, dup := seen[seq]; dup {
			continue
		}
		maxSeq = max(maxSeq, seq)
		ts, _ := strconv.ParseFloat(m[1], 64)
		seen[seq] = time.Unix(0, int64(ts*1e9))
		r.replies = append(r.replies, seen[seq])
	}
	var prev time.Time
	for seq := 1; seq <= maxSeq; seq++ {
		if at, ok := seen[seq]; ok {
			prev = at
			continue
		}
		if len(r.lostAt) < 50 {
			r.lostAt = append(r.lostAt, fmt.Sprintf("seq %d after %s", seq, prev.Format("15:04:05.000")))
		}
	}
	sort.Slice(r.replies, func(i, j int) bool { return r.replies[i].Before(r.replies[j]) })
	// icmp_seq starts at 1 and wraps at 65535; the tests never run that long.
	r.sent = maxSeq
	r.lost = maxSeq - len(seen)
	return r
}

// gap is the longest time between two consecutive replies, and the first reply at or after from.
func (r pingResult) gap() time.Duration {
	var g time.Duration
	for k := 1; k < len(r.replies); k++ {
		g = max(g, r.replies[k].Sub(r.replies[k-1]))
	}
	return g
}

func (r pingResult) firstAfter(from time.Time) (time.Time, bool) {
	for _, x := range r.replies {
		if !x.Before(from) {
			return x, true
		}
	}
	return time.Time{}, false
}

// probe connects once from a namespace (a probe error counts as outcome 0).
func probe(netns, host string, port int, proto string, timeout time.Duration) (string, framework.Outcome) {
	reply, out, err := workload.Probe(context.Background(), "/run/netns/"+netns, net.JoinHostPort(host, strconv.Itoa(port)), proto, timeout)
	if err != nil {
		return err.Error(), 0
	}
	return reply, out
}

// probeRetry probes up to tries times and returns the first connected reply, or the last outcome.
func probeRetry(netns, host string, port int, tries int) (string, framework.Outcome) {
	var reply string
	var out framework.Outcome
	for k := 0; k < tries; k++ {
		if reply, out = probe(netns, host, port, "tcp", 2*time.Second); out == framework.Connected {
			return reply, out
		}
		time.Sleep(200 * time.Millisecond)
	}
	return reply, out
}

// eventually polls cond until it holds or timeout passes, then fails with what and cond's last explanation.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var why string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: not within %v: %s", what, timeout, why)
}
