package ovsdb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// env is one test's private OVS, running in its own network namespace, and a Client connected to it.
type env struct {
	ctx context.Context
	ns  string
	ovs *privateovs.OVS
	c   *Client
}

// newEnv starts a private OVS in a new namespace and connects a Client; everything is torn down when the test ends.
func newEnv(t testing.TB, opts privateovs.Options) *env {
	t.Helper()
	nettest.RequireOVS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	opts.Netns = nettest.NewNetns(t, "ovsdb")
	o, err := privateovs.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop() })
	c, err := Connect(ctx, "unix:"+o.DBSocket, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &env{ctx: ctx, ns: opts.Netns, ovs: o, c: c}
}

func testLogger(t testing.TB) logrus.FieldLogger {
	log := logrus.New()
	log.SetOutput(t.Output())
	log.SetLevel(logrus.DebugLevel)
	return log
}

// vsctl runs ovs-vsctl against the private OVS and returns its trimmed output: tests cross-check the client
// against the database this way.
func (e *env) vsctl(t *testing.T, args ...string) string {
	t.Helper()
	full := append([]string{"--db=unix:" + e.ovs.DBSocket, "--timeout=10"}, args...)
	out, err := exec.CommandContext(e.ctx, "ovs-vsctl", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-vsctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// rowCount counts the rows of a table in the database.
func (e *env) rowCount(t *testing.T, table string) int {
	t.Helper()
	out := e.vsctl(t, "--bare", "--columns=_uuid", "list", table)
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

// rowCounts counts the rows of every table the client writes.
func (e *env) rowCounts(t *testing.T) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range []string{"Bridge", "Port", "Interface", "Flow_Table"} {
		counts[table] = e.rowCount(t, table)
	}
	return counts
}

// netdevBridge is a bridge spec for this machine (no openvswitch kernel module).
func netdevBridge(name string) BridgeSpec {
	return BridgeSpec{
		Name:         name,
		DatapathType: DatapathNetdev,
		TableNames:   map[uint8]string{0: "classifier", 10: "arp-responder", 50: "output"},
		ExternalIDs:  map[string]string{"switchyard/owner": "test"},
		OtherConfig:  map[string]string{"hwaddr": "0a:00:00:00:00:01"},
	}
}

// ensureBridge creates a netdev bridge, waits until vswitchd has it, and fails the test on error.
func (e *env) ensureBridge(t testing.TB, name string) {
	t.Helper()
	if err := e.c.EnsureBridge(e.ctx, netdevBridge(name)); err != nil {
		t.Fatal(err)
	}
	if err := e.c.WaitVswitchd(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond (a cross-check outside the client) until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goroutines returns the stack of every goroutine in the process, by goroutine id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	all := map[string]string{}
	for _, stack := range strings.Split(string(buf), "\n\n") {
		// "goroutine 42 [select]:\n..."
		if id, _, ok := strings.Cut(strings.TrimPrefix(stack, "goroutine "), " "); ok {
			all[id] = stack
		}
	}
	return all
}

// clientGoroutinesSince returns the stacks of the goroutines started after before was taken that run OVSDB client
// code (libovsdb or its RPC library).
func clientGoroutinesSince(before map[string]string) []string {
	var stacks []string
	for id, stack := range goroutines() {
		if _, old := before[id]; old {
			continue
		}
		if strings.Contains(stack, "github.com/ovn-kubernetes/libovsdb") || strings.Contains(stack, "github.com/cenkalti/rpc2") {
			stacks = append(stacks, stack)
		}
	}
	return stacks
}

// vswitchdLog is ovs-vswitchd's log file so far.
func (e *env) vswitchdLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.ovs.Dir, "ovs-vswitchd.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
