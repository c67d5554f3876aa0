// Command etcd runs a single-member etcd, embedded through go.etcd.io/etcd/server/v3/embed at the version
// Kubernetes v1.37.2 pins, for the Switchyard lab. It serves clients on loopback only and shuts down cleanly on
// SIGTERM or SIGINT (the data directory stays consistent and can be reopened).
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

func run() error {
	name := flag.String("name", "lab", "member name")
	dataDir := flag.String("data-dir", "", "data directory (required)")
	clientURL := flag.String("listen-client-url", "http://127.0.0.1:2379", "URL to serve clients on (loopback only)")
	peerURL := flag.String("listen-peer-url", "http://127.0.0.1:2380", "URL for the (unused) peer listener (loopback only)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	startTimeout := flag.Duration("start-timeout", time.Minute, "how long to wait for the member to be ready")
	flag.Parse()
	if *dataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}
	client, err := loopbackURL("--listen-client-url", *clientURL)
	if err != nil {
		return err
	}
	peer, err := loopbackURL("--listen-peer-url", *peerURL)
	if err != nil {
		return err
	}

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Logger = "zap"
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start embedded etcd in %s: %w", *dataDir, err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd: ready, serving clients on %s\n", client)
	case <-time.After(*startTimeout):
		e.Server.Stop()
		return fmt.Errorf("member not ready after %s", *startTimeout)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sigs:
		fmt.Fprintf(os.Stderr, "etcd: %s, shutting down\n", s)
		return nil // the deferred Close stops the server and its listeners
	case err := <-e.Err():
		return fmt.Errorf("server failed: %w", err)
	}
}

// loopbackURL parses an http URL and checks that its host is a loopback address: the lab's etcd has no TLS,
// so it must never be reachable from outside its network namespace's loopback.
func loopbackURL(flagName, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flagName, s, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s %q: scheme must be http", flagName, s)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
		return nil, fmt.Errorf("%s %q: host must be a loopback address", flagName, s)
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("%s %q: a port is required", flagName, s)
	}
	return u, nil
}
