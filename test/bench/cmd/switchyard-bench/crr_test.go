package main

import (
	"io"
	"net"
	"testing"
)

func TestClientPortsWrap(t *testing.T) {
	p := &clientPorts{next: crrLastPort}
	if got := p.take(); got != crrLastPort {
		t.Fatalf("first take = %d, want %d", got, crrLastPort)
	}
	if got := p.take(); got != crrFirstPort {
		t.Fatalf("take after the last port = %d, want %d", got, crrFirstPort)
	}
}

// crrEchoServer serves the connection-rate protocol on a loopback listener, one connection after another: one byte back, then
// wait for the client's close. It returns the listener's address.
func crrEchoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 1)
			if _, err := io.ReadFull(c, b); err == nil {
				_, _ = c.Write(b)
			}
			_, _ = c.Read(b)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestClientPortsSkipsPortInUse(t *testing.T) {
	addr := crrEchoServer(t)
	// Hold a port with a listener: the client must skip it and use the next one.
	held, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	if port >= crrLastPort {
		t.Skipf("the kernel gave port %d, at the end of the client's range", port)
	}
	p := &clientPorts{next: port}
	if err := p.transaction(addr); err != nil {
		t.Fatalf("transaction: %v", err)
	}
	// The held port cannot have carried the transaction, so it was skipped for a later one.
	if p.next < port+2 {
		t.Fatalf("next port = %d, want at least %d (port %d skipped, a later one used)", p.next, port+2, port)
	}
}
