package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api/wire"
)

// agentClient calls the agent's local API: one HTTP/1.0 request with a JSON body per connection on its unix socket
// (the agent's net/http server answers without chunking and closes). The plugin runs once per CNI call and its
// start-up is on every pod's ADD: net/http and what it pulls in (crypto/tls...) would add about a third to it, so
// this client speaks the little HTTP it needs itself. The errors are those of cni/api.Client: every one is a
// *types.Error, an agent that cannot be reached or does not answer in time gives types.ErrTryAgainLater, and a
// non-2xx answer gives the code of the wire.Error in its body.
type agentClient struct {
	socket   string
	timeouts wire.Timeouts
}

func newAgentClient(socket string, t wire.Timeouts) *agentClient {
	return &agentClient{socket: socket, timeouts: t.WithDefaults()}
}

func (c *agentClient) add(ctx context.Context, req wire.CNIRequest) (*wire.Attachment, error) {
	var att wire.Attachment
	if err := c.do(ctx, c.timeouts.Add, "POST", wire.PathCNIAdd, req, &att); err != nil {
		return nil, err
	}
	return &att, nil
}

func (c *agentClient) del(ctx context.Context, req wire.CNIRequest) error {
	return c.do(ctx, c.timeouts.Del, "POST", wire.PathCNIDel, req, nil)
}

func (c *agentClient) check(ctx context.Context, req wire.CNIRequest) (*wire.Attachment, error) {
	var att wire.Attachment
	if err := c.do(ctx, c.timeouts.Check, "POST", wire.PathCNICheck, req, &att); err != nil {
		return nil, err
	}
	return &att, nil
}

func (c *agentClient) gc(ctx context.Context, req wire.GCRequest) (*wire.GCResponse, error) {
	var resp wire.GCResponse
	if err := c.do(ctx, c.timeouts.GC, "POST", wire.PathCNIGC, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func (c *agentClient) status(ctx context.Context) (*wire.Status, error) {
	var st wire.Status
	if err := c.do(ctx, c.timeouts.Status, "GET", wire.PathStatus, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (c *agentClient) do(ctx context.Context, timeout time.Duration, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return types.NewError(types.ErrInternal, fmt.Sprintf("encoding the body of %s %s: %v", method, path, err), "")
		}
	}
	dialer := net.Dialer{Timeout: c.timeouts.Connect}
	conn, err := dialer.DialContext(ctx, "unix", c.socket)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("switchyard-agent at %s did not accept a connection within %s",
				c.socket, c.timeouts.Connect), "")
		}
		return c.unreachable(ctx, timeout, method, path, err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.0\r\nHost: switchyard-agent\r\nAccept: application/json\r\n", method, path)
	if in != nil {
		fmt.Fprintf(&req, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return c.unreachable(ctx, timeout, method, path, err)
	}
	status, answer, err := readAnswer(conn)
	if err != nil {
		return c.unreachable(ctx, timeout, method, path, err)
	}
	if status < 200 || status > 299 {
		return c.answerError(method, path, status, answer)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return types.NewError(types.ErrInternal,
			fmt.Sprintf("switchyard-agent at %s sent an undecodable answer to %s %s: %v", c.socket, method, path, err), "")
	}
	return nil
}

// readAnswer reads an HTTP/1.x response: its status code and its body (up to Content-Length, else to the end of
// the connection), at most wire.MaxAnswerBytes.
func readAnswer(conn net.Conn) (int, []byte, error) {
	r := bufio.NewReader(io.LimitReader(conn, wire.MaxAnswerBytes+64<<10))
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, nil, err
	}
	proto, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil {
		return 0, nil, fmt.Errorf("malformed HTTP status line %q", strings.TrimSpace(line))
	}
	length := -1
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return 0, nil, err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			if length, err = strconv.Atoi(strings.TrimSpace(value)); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("malformed Content-Length %q", value)
			}
		}
	}
	var body []byte
	if length >= 0 {
		if length > wire.MaxAnswerBytes {
			return 0, nil, fmt.Errorf("answer of %d bytes is larger than %d", length, wire.MaxAnswerBytes)
		}
		body = make([]byte, length)
		_, err = io.ReadFull(r, body)
	} else {
		body, err = io.ReadAll(r)
	}
	if err != nil {
		return 0, nil, err
	}
	return status, body, nil
}

// unreachable turns a transport failure into ErrTryAgainLater naming the socket.
func (c *agentClient) unreachable(ctx context.Context, timeout time.Duration, method, path string, err error) error {
	// The connection's deadline is the context's: it can fire a moment before the context says it is done.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("switchyard-agent at %s did not answer %s %s within %s", c.socket, method, path, timeout), "")
	}
	if ctx.Err() != nil {
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("request %s %s to switchyard-agent at %s was canceled", method, path, c.socket), "")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		err = opErr.Err
	}
	return types.NewError(types.ErrTryAgainLater, fmt.Sprintf("switchyard-agent not reachable at %s: %s", c.socket, err), "")
}

// answerError decodes the wire.Error of a non-2xx answer into a *types.Error.
func (c *agentClient) answerError(method, path string, status int, raw []byte) error {
	if len(raw) > wire.MaxErrorBytes {
		raw = raw[:wire.MaxErrorBytes]
	}
	return wire.AnswerError(c.socket, method, path, status, raw)
}
