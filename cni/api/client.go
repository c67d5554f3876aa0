package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/switchyard-net/switchyard/cni/api/wire"
)

// Client calls the switchyard-agent's local API: HTTP with JSON bodies over a unix socket.
// Every error it returns is a *types.Error carrying a CNI error code: an agent that cannot be
// reached or does not answer in time gives types.ErrTryAgainLater, and a non-2xx answer gives
// the code of the api.Error in its body.
type Client struct {
	socket   string // the unix socket, or for a remote client its URL (in messages)
	base     string // the URL requests go to
	timeouts Timeouts
	http     *http.Client
}

// NewClient returns a client for the agent listening on the unix socket at socket.
func NewClient(socket string, timeouts Timeouts) *Client {
	timeouts = timeouts.WithDefaults()
	dialer := &net.Dialer{Timeout: timeouts.Connect}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socket, base: "http://switchyard-agent", timeouts: timeouts, http: &http.Client{Transport: transport}}
}

// NewRemoteClient returns a client for an agent's remote API at base ("https://192.168.77.11:10351"), sending
// requests through rt (which authenticates them and checks the agent's certificate).
func NewRemoteClient(base string, rt http.RoundTripper, timeouts Timeouts) *Client {
	return &Client{socket: base, base: strings.TrimSuffix(base, "/"), timeouts: timeouts.WithDefaults(), http: &http.Client{Transport: rt}}
}

// Socket returns the path of the unix socket the client dials.
func (c *Client) Socket() string { return c.socket }

// Add asks the agent to attach a pod: allocate its address, create its veth and OVS port and
// program its flows.
func (c *Client) Add(ctx context.Context, req CNIRequest) (*Attachment, error) {
	var att Attachment
	if err := c.do(ctx, c.timeouts.Add, http.MethodPost, PathCNIAdd, req, &att); err != nil {
		return nil, err
	}
	return &att, nil
}

// Del asks the agent to detach a pod and release everything it holds for it. The agent answers
// success for an attachment it does not know.
func (c *Client) Del(ctx context.Context, req CNIRequest) error {
	return c.do(ctx, c.timeouts.Del, http.MethodPost, PathCNIDel, req, nil)
}

// Check asks the agent to verify a pod's attachment and returns the attachment as the agent
// has it recorded.
func (c *Client) Check(ctx context.Context, req CNIRequest) (*Attachment, error) {
	var att Attachment
	if err := c.do(ctx, c.timeouts.Check, http.MethodPost, PathCNICheck, req, &att); err != nil {
		return nil, err
	}
	return &att, nil
}

// GC sends the attachments the runtime still considers valid; the agent removes the others.
func (c *Client) GC(ctx context.Context, req GCRequest) (*GCResponse, error) {
	var resp GCResponse
	if err := c.do(ctx, c.timeouts.GC, http.MethodPost, PathCNIGC, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Status returns the agent's readiness. A not-ready agent is a successful answer with
// Ready false and a Reason.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.do(ctx, c.timeouts.Status, http.MethodGet, PathStatus, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Do sends one request to the agent, bounded by the Request timeout. in, when not nil, is sent
// as the JSON body; out, when not nil, receives the JSON answer of a 2xx response.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, c.timeouts.Request, method, path, in, out)
}

func (c *Client) do(ctx context.Context, timeout time.Duration, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return types.NewError(types.ErrInternal, fmt.Sprintf("encoding the body of %s %s: %v", method, path, err), "")
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("building request %s %s: %v", method, path, err), "")
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(ctx, timeout, method, path, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.answerError(method, path, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, wire.MaxAnswerBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, wire.MaxAnswerBytes)).Decode(out); err != nil {
		if ctx.Err() != nil {
			return c.unreachable(ctx, timeout, method, path, err)
		}
		return types.NewError(types.ErrInternal,
			fmt.Sprintf("switchyard-agent at %s sent an undecodable answer to %s %s: %v", c.socket, method, path, err), "")
	}
	return nil
}

// unreachable turns a transport failure into ErrTryAgainLater naming the socket.
func (c *Client) unreachable(ctx context.Context, timeout time.Duration, method, path string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("switchyard-agent at %s did not answer %s %s within %s", c.socket, method, path, timeout), "")
	}
	if ctx.Err() != nil {
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("request %s %s to switchyard-agent at %s was canceled", method, path, c.socket), "")
	}
	return types.NewError(types.ErrTryAgainLater,
		fmt.Sprintf("switchyard-agent not reachable at %s: %s", c.socket, rootCause(err)), "")
}

// answerError decodes the api.Error of a non-2xx answer into a *types.Error.
func (c *Client) answerError(method, path string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, wire.MaxErrorBytes))
	return wire.AnswerError(c.socket, method, path, resp.StatusCode, raw)
}

// rootCause strips the url.Error and net.OpError wrapping, which repeat the fake URL and the
// socket path, down to the system error ("connection refused", "no such file or directory").
func rootCause(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}
