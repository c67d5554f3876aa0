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
}

// crrClientMain runs transactions against -addr from -conns parallel loops for -duration, after waiting up to
// 10 s for the server to accept, and prints a CRRResult.
func crrClientMain(args []string) error {
	fs := flag.NewFlagSet("crr-client", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address:port")
	dur := fs.Duration("duration", 3*time.Second, "how long to run")
	conns := fs.Int("conns", 1, "parallel transaction loops")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := waitServer(*addr, 10*time.Second); err != nil {
		return err
	}
	var done, failed atomic.Int64
	deadline := time.Now().Add(*dur)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := transaction(*addr); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	r := CRRResult{Transactions: int(done.Load()), Errors: int(failed.Load()), Seconds: secs, PerSecond: float64(done.Load()) / secs}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// transaction is one connect, request, response, close.
func transaction(addr string) error {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return err
	}
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
