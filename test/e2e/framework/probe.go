package framework

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard-net/switchyard/test/lab/workload"
)

// Outcome re-exports the probe outcomes.
type Outcome = workload.Outcome

// Probe outcomes.
const (
	Connected = workload.Connected
	Refused   = workload.Refused
	Timeout   = workload.Timeout
)

// Netns is the network namespace a pod runs in (its node's for hostNetwork pods).
func (f *Framework) Netns(t testing.TB, p *corev1.Pod) string {
	t.Helper()
	n, err := f.Lab.PodNetns(context.Background(), p.Namespace+"/"+p.Name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// NodeNetns is lab node i's namespace (1-based).
func (f *Framework) NodeNetns(i int) string { return f.Lab.Plan.NodeNS(i) }

// ExternalNetns is the namespace playing a host outside the cluster.
func (f *Framework) ExternalNetns() string { return f.Lab.Plan.ExternalNS() }

// Probe connects from a namespace to host:port and returns the reply (the server pod's name) and the outcome.
func (f *Framework) Probe(t testing.TB, netns, host string, port int, proto string, timeout time.Duration) (string, Outcome) {
	t.Helper()
	reply, out, err := workload.Probe(context.Background(), "/run/netns/"+netns, net.JoinHostPort(host, strconv.Itoa(port)), proto, timeout)
	if err != nil {
		t.Fatalf("probe %s -> %s:%d/%s: %v", netns, host, port, proto, err)
	}
	return reply, out
}

// Case is one cell of a connectivity matrix.
type Case struct {
	Name    string // shown on failure
	Netns   string
	Host    string
	Port    int
	Proto   string
	Want    Outcome
	AlsoOK  Outcome // a second acceptable outcome (e.g. Refused for a drop that a host may answer with a reject)
	Reply   string  // when Want is Connected and Reply is set, the reply must equal it
	Timeout time.Duration
}

// Matrix runs every case in parallel (bounded) and reports each mismatch; a case gets up to 3 tries so a lost
// first packet does not decide it.
func (f *Framework) Matrix(t testing.TB, cases []Case) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make([]string, len(cases))
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			to := c.Timeout
			if to == 0 {
				to = 2 * time.Second
			}
			var reply string
			var out Outcome
			for try := 0; try < 3; try++ {
				r, o, err := workload.Probe(context.Background(), "/run/netns/"+c.Netns, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.Proto, to)
				if err != nil {
					errs[i] = fmt.Sprintf("%s: %v", c.Name, err)
					return
				}
				reply, out = r, o
				if out == c.Want && (c.Reply == "" || reply == c.Reply) || c.AlsoOK != 0 && out == c.AlsoOK {
					return
				}
				if c.Want != Connected {
					break // a refused/timeout expectation is not retried into success
				}
			}
			errs[i] = fmt.Sprintf("%s: %s %q, want %s %q", c.Name, out, reply, c.Want, c.Reply)
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
}

// Ping pings from a namespace; it returns nil when every ping got an answer.
func Ping(netns, dst string, count int, extra ...string) error {
	args := append([]string{"netns", "exec", netns, "ping", "-c", strconv.Itoa(count), "-W", "1", "-i", "0.2"}, extra...)
	out, err := exec.Command("ip", append(args, dst)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v\n%s", dst, netns, err, out)
	}
	return nil
}
