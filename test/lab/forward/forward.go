// Package forward exposes a TCP service that lives inside a network namespace on the host's loopback: it
// accepts on 127.0.0.1 in the caller's namespace and dials the target from inside the given namespace. The lab
// uses it so kubectl and e2e tests on the host reach the API server, which lives in the control plane's namespace,
// without any route between the host and the lab.
package forward

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Serve accepts on ln and forwards each connection to target, dialled inside the namespace at netnsPath. It returns
// when ctx is done.
func Serve(ctx context.Context, ln net.Listener, netnsPath, target string) error {
	return acceptEach(ctx, ln, func(c net.Conn) {
		up, err := Dial(ctx, netnsPath, target)
		if err != nil {
			return
		}
		defer up.Close()
		pipe(c, up)
	})
}

// acceptEach runs handle for every connection ln accepts, each in its own goroutine, and closes the connection
// after it. It returns when ctx is done (after the handlers) or accepting fails.
func acceptEach(ctx context.Context, ln net.Listener, handle func(net.Conn)) error {
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			handle(c)
		}()
	}
}

// Dial opens a TCP connection from inside the namespace at netnsPath.
func Dial(ctx context.Context, netnsPath, target string) (net.Conn, error) {
	var conn net.Conn
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		var err error
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err = d.DialContext(ctx, "tcp", target)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s in %s: %w", target, netnsPath, err)
	}
	return conn, nil
}

func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
