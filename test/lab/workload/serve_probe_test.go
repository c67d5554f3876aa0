package workload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

func TestServeAndProbeTCPAndUDP(t *testing.T) {
	p := newPair(t)
	startServe(t, p.serverPath, Options{Name: "pod-a", TCP: []int{8080, 9090}, UDP: []int{5353}})
	for _, tc := range []struct{ proto, target string }{
		{"tcp", p.serverIP + ":8080"},
		{"tcp", p.serverIP + ":9090"},
		{"udp", p.serverIP + ":5353"},
	} {
		reply, o, err := Probe(context.Background(), p.clientPath, tc.target, tc.proto, 2*time.Second)
		if err != nil || o != Connected || reply != "pod-a" {
			t.Errorf("probe %s %s = %q, %v, %v; want pod-a, connected", tc.proto, tc.target, reply, o, err)
		}
	}
	// From inside the server's own namespace, over loopback.
	reply, o, err := Probe(context.Background(), p.serverPath, "127.0.0.1:8080", "tcp", time.Second)
	if err != nil || o != Connected || reply != "pod-a" {
		t.Errorf("loopback probe = %q, %v, %v", reply, o, err)
	}
}

func TestProbeRefused(t *testing.T) {
	p := newPair(t)
	startServe(t, p.serverPath, Options{Name: "pod-b", TCP: []int{8080}, UDP: []int{5353}})
	for _, proto := range []string{"tcp", "udp"} {
		start := time.Now()
		reply, o, err := Probe(context.Background(), p.clientPath, p.serverIP+":7", proto, 3*time.Second)
		if err != nil || o != Refused || reply != "" {
			t.Errorf("probe %s closed port = %q, %v, %v; want refused", proto, reply, o, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("probe %s closed port took %v; refusal should be immediate", proto, d)
		}
	}
}

func TestProbeTimeoutWhenNobodyAnswers(t *testing.T) {
	p := newPair(t)
	// 10.250.1.77 is in the client's subnet but no host has it: ARP goes unanswered.
	for _, proto := range []string{"tcp", "udp"} {
		start := time.Now()
		_, o, err := Probe(context.Background(), p.clientPath, "10.250.1.77:80", proto, 500*time.Millisecond)
		if err != nil || o != Timeout {
			t.Errorf("probe %s to a silent address = %v, %v; want timeout", proto, o, err)
		}
		if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
			t.Errorf("probe %s took %v, want about the 500ms timeout", proto, d)
		}
	}
	// No route at all (the client has only a connected /24) is a timeout as well, and immediate.
	_, o, err := Probe(context.Background(), p.clientPath, "192.0.2.1:80", "tcp", 500*time.Millisecond)
	if err != nil || o != Timeout {
		t.Errorf("probe without a route = %v, %v; want timeout", o, err)
	}
}

func TestReadyFileWrittenAndRemoved(t *testing.T) {
	p := newPair(t)
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ns.WithNetNSPath(p.serverPath, func(ns.NetNS) error {
			return Serve(ctx, Options{Name: "pod-c", TCP: []int{80}, UDP: []int{53}, ReadyFile: ready})
		})
	}()
	waitFile(t, ready, done)
	// Ready means bound: a probe right away succeeds.
	if reply, o, err := Probe(context.Background(), p.clientPath, p.serverIP+":80", "tcp", time.Second); o != Connected {
		t.Errorf("probe right after ready = %q, %v, %v", reply, o, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Stat(ready); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ready file still there after Serve returned: %v", err)
	}
	if _, o, _ := Probe(context.Background(), p.clientPath, p.serverIP+":80", "tcp", time.Second); o != Refused {
		t.Errorf("probe after Serve returned = %v, want refused", o)
	}
}

func TestServeFailsOnPortInUse(t *testing.T) {
	p := newPair(t)
	startServe(t, p.serverPath, Options{Name: "first", TCP: []int{8080}})
	ready := filepath.Join(t.TempDir(), "ready")
	err := ns.WithNetNSPath(p.serverPath, func(ns.NetNS) error {
		return Serve(context.Background(), Options{Name: "second", TCP: []int{8080}, ReadyFile: ready})
	})
	if err == nil || !strings.Contains(err.Error(), "tcp port 8080") {
		t.Fatalf("second Serve on a bound port = %v, want an error naming tcp port 8080", err)
	}
	if _, err := os.Stat(ready); err == nil {
		t.Errorf("ready file written although binding failed")
	}
}

func TestFiftyParallelProbes(t *testing.T) {
	p := newPair(t)
	startServe(t, p.serverPath, Options{Name: "pod-d", TCP: []int{8080}, UDP: []int{5353}})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	start := time.Now()
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proto, target := "tcp", p.serverIP+":8080"
			if i%2 == 1 {
				proto, target = "udp", p.serverIP+":5353"
			}
			reply, o, err := Probe(context.Background(), p.clientPath, target, proto, 3*time.Second)
			if err != nil || o != Connected || reply != "pod-d" {
				errs <- fmt.Errorf("probe %d (%s) = %q, %v, %v", i, proto, reply, o, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("50 parallel probes took %v", time.Since(start))
}

func TestSCTP(t *testing.T) {
	p := newPair(t)
	var sockErr error
	if err := inNetns(p.serverPath, func() {
		fd, err := sctpSocket()
		sockErr = err
		if err == nil {
			closeFD(fd)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if errors.Is(sockErr, ErrNoSCTP) {
		// Serve still serves the other protocols and logs the missing SCTP.
		startServe(t, p.serverPath, Options{Name: "pod-e", TCP: []int{80}, SCTP: []int{9000}})
		if _, o, err := Probe(context.Background(), p.clientPath, p.serverIP+":80", "tcp", time.Second); o != Connected {
			t.Errorf("tcp next to an unavailable sctp port = %v, %v", o, err)
		}
		if _, _, err := Probe(context.Background(), p.clientPath, p.serverIP+":9000", "sctp", time.Second); !errors.Is(err, ErrNoSCTP) {
			t.Errorf("sctp probe without SCTP: err = %v, want ErrNoSCTP", err)
		}
		t.Skip("the kernel has no SCTP; checked that the other protocols are served")
	}
	startServe(t, p.serverPath, Options{Name: "pod-e", SCTP: []int{9000}})
	reply, o, err := Probe(context.Background(), p.clientPath, p.serverIP+":9000", "sctp", 2*time.Second)
	if err != nil || o != Connected || reply != "pod-e" {
		t.Errorf("sctp probe = %q, %v, %v", reply, o, err)
	}
	if _, o, err := Probe(context.Background(), p.clientPath, p.serverIP+":9001", "sctp", 2*time.Second); o != Refused {
		t.Errorf("sctp probe of a closed port = %v, %v; want refused", o, err)
	}
}

func TestProbeRejectsBadArguments(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		netns, target, proto string
		timeout              time.Duration
		want                 string
	}{
		{"", "10.0.0.1:80", "icmp", time.Second, `protocol "icmp"`},
		{"", "10.0.0.1", "tcp", time.Second, "not host:port"},
		{"", "10.0.0.1:80", "tcp", 0, "must be positive"},
		{"/nonexistent/netns", "10.0.0.1:80", "tcp", time.Second, "/nonexistent/netns"},
	} {
		_, o, err := Probe(ctx, tc.netns, tc.target, tc.proto, tc.timeout)
		if err == nil || o != 0 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Probe(%q, %q, %q, %v) = %v, %v; want an error containing %q", tc.netns, tc.target, tc.proto, tc.timeout, o, err, tc.want)
		}
	}
}

func TestProbeCancelledContextIsAnError(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, o, err := Probe(ctx, p.clientPath, "10.250.1.77:80", "udp", 5*time.Second)
	if err == nil || o != 0 {
		t.Errorf("cancelled probe = %v, %v; want an error", o, err)
	}
}
