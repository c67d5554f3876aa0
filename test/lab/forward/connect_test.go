package forward

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// A CONNECT to an allowed target inside the namespace is tunnelled (with the bytes sent right after the request);
// any other target, or another method, gets 403.
func TestConnectIntoNamespace(t *testing.T) {
	nettest.RequireRoot(t)
	path := "/run/netns/" + nettest.NewNetns(t, "fwdc")
	var target net.Listener
	if err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		target, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte("inside got " + line))
			c.Close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ServeConnect(ctx, ln, path, func(a string) bool { return a == target.Addr().String() })
	}()
	defer func() { cancel(); <-done }()

	connect := func(method, to string) (string, string) {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		uri := to
		if method != http.MethodConnect {
			uri = "http://" + to + "/"
		}
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\nhello\n", method, uri, to)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		return resp.Status, string(rest)
	}
	if status, body := connect("CONNECT", target.Addr().String()); status != "200 Connection established" || body != "inside got hello\n" {
		t.Errorf("allowed target: %q %q", status, body)
	}
	if status, _ := connect("CONNECT", "127.0.0.1:1"); status != "403 Forbidden" {
		t.Errorf("a target not allowed: %q", status)
	}
	if status, _ := connect("GET", target.Addr().String()); status != "403 Forbidden" {
		t.Errorf("GET: %q", status)
	}
}
