package workload

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// pair is two fresh network namespaces joined by a veth: server 10.250.1.1/24, client 10.250.1.2/24.
type pair struct {
	serverPath, clientPath string
	serverIP, clientIP     string
}

// newPair creates the namespaces; they are deleted when the test ends.
func newPair(t *testing.T) pair {
	t.Helper()
	nettest.RequireRoot(t)
	srv := nettest.NewNetns(t, "wls")
	cli := nettest.NewNetns(t, "wlc")
	veth := nettest.UniqueName("wl")[:11]
	nettest.Run(t, "ip", "-n", srv, "link", "add", veth+"a", "type", "veth", "peer", "name", veth+"b", "netns", cli)
	nettest.Run(t, "ip", "-n", srv, "addr", "add", "10.250.1.1/24", "dev", veth+"a")
	nettest.Run(t, "ip", "-n", cli, "addr", "add", "10.250.1.2/24", "dev", veth+"b")
	nettest.Run(t, "ip", "-n", srv, "link", "set", veth+"a", "up")
	nettest.Run(t, "ip", "-n", cli, "link", "set", veth+"b", "up")
	// ICMP errors are rate limited per peer; tests that expect many "refused" answers must not be throttled.
	nettest.Run(t, "ip", "netns", "exec", srv, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	return pair{serverPath: "/run/netns/" + srv, clientPath: "/run/netns/" + cli, serverIP: "10.250.1.1", clientIP: "10.250.1.2"}
}

// startServe runs Serve inside the namespace at path until the test ends and waits for its ready file.
func startServe(t *testing.T, path string, o Options) {
	t.Helper()
	if o.ReadyFile == "" {
		o.ReadyFile = filepath.Join(t.TempDir(), "ready")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ns.WithNetNSPath(path, func(ns.NetNS) error { return Serve(ctx, o) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	waitFile(t, o.ReadyFile, done)
}

// waitFile waits up to 5 s for path to exist, failing early if Serve returned.
func waitFile(t *testing.T, path string, done chan error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("Serve returned before writing %s: %v", path, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("ready file %s not written within 5s", path)
}
