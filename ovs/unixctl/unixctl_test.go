package unixctl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/ovs/unixctl"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// Against a real ovs-vswitchd: many commands over one connection, the daemon's own error for a bad command, a batch, and a
// vswitchd restart between two commands (the stale connection is replaced without the caller noticing).
func TestCallsRealVswitchd(t *testing.T) {
	nettest.RequireOVS(t)
	ns := nettest.NewNetns(t, "uctl")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := privateovs.Start(ctx, privateovs.Options{Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop() })
	br := nettest.UniqueName("bru") // the dpctl commands need a datapath
	if err := o.Vsctl(ctx, "add-br", br, "--", "set", "bridge", br, "datapath_type=netdev"); err != nil {
		t.Fatal(err)
	}

	c := unixctl.New(o.VswitchdCtl(), o.Dir)
	defer c.Close()
	for i := 0; i < 50; i++ {
		out, err := c.Call(ctx, "version")
		if err != nil || !strings.Contains(out, "ovs-vswitchd") {
			t.Fatalf("call %d: version: %q, %v", i, out, err)
		}
	}
	want, err := o.Appctl(ctx, "dpctl/dump-conntrack")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Call(ctx, "dpctl/dump-conntrack"); err != nil || got != want {
		t.Errorf("dpctl/dump-conntrack: %q, %v; ovs-appctl printed %q", got, err, want)
	}

	_, err = c.Call(ctx, "no/such-command", "x")
	var se *unixctl.ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "not a valid command") {
		t.Errorf("unknown command: want the daemon's error, got %v", err)
	}
	if _, err := c.Call(ctx, "dpctl/flush-conntrack", "zone=7", "ct_nw_src=10.99.0.1"); err != nil {
		t.Errorf("the connection is unusable after a refused command: %v", err)
	}

	// A batch: every command runs and answers in order, a refused one in the middle included.
	outs, err := c.CallAll(ctx,
		unixctl.Command{Method: "version"},
		unixctl.Command{Method: "no/such-command", Params: []string{"y"}},
		unixctl.Command{Method: "dpctl/flush-conntrack", Params: []string{"zone=7", "ct_nw_src=10.99.0.1"}},
		unixctl.Command{Method: "dpctl/dump-conntrack"})
	if !errors.As(err, &se) || se.Method != "no/such-command" {
		t.Errorf("batch with an unknown command: want the daemon's error for it, got %v", err)
	}
	if len(outs) != 4 || !strings.Contains(outs[0], "ovs-vswitchd") || outs[1] != "" || outs[3] != want {
		t.Errorf("batch outputs %q, want the version, nothing, anything, then %q", outs, want)
	}
	if out, err := c.Call(ctx, "version"); err != nil || !strings.Contains(out, "ovs-vswitchd") {
		t.Errorf("after a batch: %q, %v", out, err)
	}

	if err := o.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Call(ctx, "version")
	var ce *unixctl.ConnectError
	if !errors.As(err, &ce) {
		t.Errorf("vswitchd stopped: want a ConnectError, got %v", err)
	}
	if err := o.StartVswitchd(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Call(ctx, "version"); err != nil || !strings.Contains(out, "ovs-vswitchd") {
		t.Errorf("after vswitchd restarted: %q, %v", out, err)
	}
}

// A daemon name is resolved as ovs-appctl does: <rundir>/<name>.pid, then <rundir>/<name>.<pid>.ctl.
func TestTargetByNameUsesThePidfile(t *testing.T) {
	dir := t.TempDir()
	c := unixctl.New("ovs-vswitchd", dir)
	_, err := c.Call(context.Background(), "version")
	var ce *unixctl.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "cannot read pidfile") {
		t.Fatalf("no pidfile: want a ConnectError about the pidfile, got %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ovs-vswitchd.pid"), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.Call(context.Background(), "version")
	if !errors.As(err, &ce) || ce.Target != filepath.Join(dir, "ovs-vswitchd.4242.ctl") {
		t.Fatalf("want a ConnectError for %s, got %v", filepath.Join(dir, "ovs-vswitchd.4242.ctl"), err)
	}
}

// Calls made at the same time go over separate connections, up to MaxConns, so the daemon serves them together.
// The stand-in daemon answers no request until MaxConns requests are waiting at once: a client that sent them one
// after the other would time out.
func TestConcurrentCallsUseSeparateConnections(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.ctl")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	waiting, conns := 0, 0
	allWaiting := make(chan struct{})
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			go func() {
				defer nc.Close()
				dec, enc := json.NewDecoder(nc), json.NewEncoder(nc)
				for {
					var req struct {
						ID     int    `json:"id"`
						Method string `json:"method"`
					}
					if dec.Decode(&req) != nil {
						return
					}
					mu.Lock()
					if waiting++; waiting == unixctl.MaxConns {
						close(allWaiting)
					}
					mu.Unlock()
					select {
					case <-allWaiting:
					case <-time.After(5 * time.Second):
					}
					_ = enc.Encode(map[string]any{"id": req.ID, "result": "done " + req.Method, "error": nil})
				}
			}()
		}
	}()

	c := unixctl.New(sock, "")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, unixctl.MaxConns)
	for i := 0; i < unixctl.MaxConns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := c.Call(ctx, "m"); err != nil || out != "done m" {
				errs <- fmt.Errorf("call: %q, %v", out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The connections stay open for the next calls.
	for i := 0; i < 3; i++ {
		if out, err := c.Call(ctx, "again"); err != nil || out != "done again" {
			t.Errorf("call after the concurrent ones: %q, %v", out, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != unixctl.MaxConns {
		t.Errorf("%d connections opened, want %d", conns, unixctl.MaxConns)
	}
}
