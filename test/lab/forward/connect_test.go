package forward

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A CONNECT to an allowed target inside the namespace is tunnelled (with the bytes sent right after the request);
// any other target, or another method, gets 403.
func TestConnectIntoNamespace(t *testing.T) {
	path, target := listenIn(t, "fwdc")
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
	proxy, stop, err := StartConnect(path, func(a string) bool { return a == target.Addr().String() })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	connect := func(method, to string) (string, string) {
		t.Helper()
		c, err := net.Dial("tcp", strings.TrimPrefix(proxy, "http://"))
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
