package forward

import (
	"bufio"
	"context"
	"net"
	"net/http"
)

// StartConnect runs ServeConnect on a free port of the caller's loopback until stop is called; proxy is its URL
// for $HTTPS_PROXY.
func StartConnect(netnsPath string, allowed func(target string) bool) (proxy string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ServeConnect(ctx, ln, netnsPath, allowed)
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// ServeConnect is an HTTP CONNECT proxy on ln whose tunnels are dialled inside the namespace at netnsPath: programs
// on the host that honour $HTTPS_PROXY (yardctl, client-go) reach addresses inside the lab through it, without any
// route between the host and the lab. allowed vets every target host:port (the lab's own ranges only); anything
// else is refused with 403. It returns when ctx is done.
func ServeConnect(ctx context.Context, ln net.Listener, netnsPath string, allowed func(target string) bool) error {
	return acceptEach(ctx, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Method != http.MethodConnect || !allowed(req.Host) {
			_, _ = c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		up, err := Dial(ctx, netnsPath, req.Host)
		if err != nil {
			_, _ = c.Write([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		defer up.Close()
		if _, err := c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
			return
		}
		if n := br.Buffered(); n > 0 { // bytes the client sent after the request (a TLS hello)
			b, _ := br.Peek(n)
			if _, err := up.Write(b); err != nil {
				return
			}
		}
		pipe(c, up)
	})
}
