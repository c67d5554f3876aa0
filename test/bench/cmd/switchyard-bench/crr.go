package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The TCP connection-rate test (netperf's TCP_CRR): each transaction is a new TCP connection, a 1-byte request, a
// 1-byte response and the close. The server and the client are this binary, started inside the two pods'
// namespaces (crr-server, crr-client).

// crrServerMain serves transactions on -listen until killed.
func crrServerMain(args []string) error {
	fs := flag.NewFlagSet("crr-server", flag.ContinueOnError)
	addr := fs.String("listen", "", "address:port to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func(c net.Conn) {
			defer c.Close()
			b := make([]byte, 1)
			if _, err := io.ReadFull(c, b); err == nil {
				_, _ = c.Write(b)
			}
			// Wait for the client's close so that the client, which closes first, keeps TIME_WAIT.
			_, _ = c.Read(b)
		}(c)
	}
}

// CRRResult is what crr-client prints (JSON).
type CRRResult struct {
	Transactions int     `json:"transactions"`
	Errors       int     `json:"errors"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"perSecond"`
	NextPort     int     `json:"nextPort"` // the source port the next run should start with
}

// crrClientMain runs transactions against -addr from -conns parallel loops for -duration, after waiting up to
// 10 s for the server to accept, and prints a CRRResult.
func crrClientMain(args []string) error {
	fs := flag.NewFlagSet("crr-client", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address:port")
	dur := fs.Duration("duration", 3*time.Second, "how long to run")
	conns := fs.Int("conns", 1, "parallel transaction loops")
	firstPort := fs.Int("first-port", crrFirstPort, fmt.Sprintf("the first source port (%d-%d)", crrFirstPort, crrLastPort))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *firstPort < crrFirstPort || *firstPort > crrLastPort {
		return fmt.Errorf("-first-port %d is outside %d-%d", *firstPort, crrFirstPort, crrLastPort)
	}
	if err := waitServer(*addr, 10*time.Second); err != nil {
		return err
	}
	ports := &clientPorts{next: *firstPort}
	var done, failed atomic.Int64
	deadline := time.Now().Add(*dur)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := ports.transaction(*addr); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	r := CRRResult{Transactions: int(done.Load()), Errors: int(failed.Load()), Seconds: secs,
		PerSecond: float64(done.Load()) / secs, NextPort: ports.take()}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// The client's source ports, used in turn. The client closes first, so each connection leaves a TIME_WAIT socket
// in the client's namespace for 60 s. Left to the kernel, connect() searches the port range for a free port and
// checks each TIME_WAIT socket it meets: with ~15,000 of them (10 s at this rate) that search, not the path under
// test, limits the rate (perf: __inet_hash_connect). So the client binds each connection to the next port itself,
// as netperf's TCP_CRR does, and a run starts where the one before it in its namespace stopped (-first-port, from
// nextPort): no run meets the connections of an earlier one, in its own TIME_WAIT sockets or in any conntrack
// table on the path. A port comes back after the whole range, tens of seconds later, when its TIME_WAIT socket is
// older than the 1 s that tcp_tw_reuse asks for.
const (
	crrFirstPort = 1024 // also the client namespace's ip_local_port_range (func crr), for the ports the kernel picks
	crrLastPort  = 65000
)

// clientPorts hands out source ports in turn.
type clientPorts struct {
	mu   sync.Mutex
	next int
}

func (p *clientPorts) take() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	port := p.next
	if p.next++; p.next > crrLastPort {
		p.next = crrFirstPort
	}
	return port
}

// transaction is one transaction from the next source port. A port that cannot be had (in use, or its TIME_WAIT
// socket too young to reuse) is skipped; crrPortTries of them in a row is an error.
func (p *clientPorts) transaction(addr string) error {
	var err error
	for range crrPortTries {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{Port: p.take()}, Control: reuseAddr}
		var c net.Conn
		if c, err = d.Dial("tcp4", addr); err == nil {
			return exchange(c)
		}
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return err
		}
	}
	return err
}

const crrPortTries = 100

// reuseAddr sets SO_REUSEADDR before bind, so a port held only by TIME_WAIT sockets can be bound again.
func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

// transaction is one connect (from a port the kernel picks), request, response, close.
func transaction(addr string) error {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return exchange(c)
}

// exchange sends the 1-byte request, reads the response and closes c.
func exchange(c net.Conn) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if b[0] != 'x' {
		return errors.New("wrong response")
	}
	return nil
}

func waitServer(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := transaction(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server %s not answering after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
