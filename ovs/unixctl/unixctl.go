// Package unixctl talks to an Open vSwitch daemon's control socket, as ovs-appctl does, over connections that stay
// open: a command costs a round trip on a unix socket instead of starting an ovs-appctl process. The
// protocol is JSON-RPC 1.0: {"id","method","params"} requests, {"id","result","error"} replies, one JSON object
// after the other on the stream.
package unixctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServerError is the daemon's answer to a command it could not carry out (what ovs-appctl prints before
// "server returned an error"). The connection is fine.
type ServerError struct {
	Method  string
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("%s: %s", e.Method, strings.TrimSpace(e.Message))
}

// ConnectError says the daemon's control socket could not be reached.
type ConnectError struct {
	Target string
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %q: %v", e.Target, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Err }

// Client sends commands to one daemon. It connects on first use and again after any failure (the daemon may
// have restarted, under a new pid and so a new socket). Each call (or batch) has a connection to itself; calls made
// at the same time use up to MaxConns connections, which the daemon serves in the same pass of its main loop, and
// wait for one beyond that. Connections stay open for the next calls. Safe for concurrent use.
type Client struct {
	target, runDir string

	slots chan struct{} // one per connection in use

	mu   sync.Mutex
	idle []*conn
	gen  int // incremented by Close: connections of an older generation are closed instead of kept
}

// conn is one connection to the daemon.
type conn struct {
	net.Conn
	dec    *json.Decoder
	nextID int
	gen    int
}

// MaxConns is how many connections a Client opens at most.
const MaxConns = 4

// New returns a client for target as ovs-appctl -t understands it: a socket path if it contains a "/", else a
// daemon name whose socket is <runDir>/<name>.<pid>.ctl, the pid read from <runDir>/<name>.pid.
func New(target, runDir string) *Client {
	return &Client{target: target, runDir: runDir, slots: make(chan struct{}, MaxConns)}
}

// socket resolves the target to a socket path.
func (c *Client) socket() (string, error) {
	if strings.Contains(c.target, "/") {
		return c.target, nil
	}
	pidfile := filepath.Join(c.runDir, c.target+".pid")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return "", fmt.Errorf("cannot read pidfile %q: %w", pidfile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("pidfile %q: %w", pidfile, err)
	}
	return filepath.Join(c.runDir, fmt.Sprintf("%s.%d.ctl", c.target, pid)), nil
}

// Call runs one command (e.g. "dpctl/flush-conntrack" with "zone=1", "ct_nw_src=10.0.0.2") and returns the
// daemon's output. A command refused by the daemon gives a *ServerError, an unreachable daemon a *ConnectError.
// A connection that fails mid-command is dropped, and the command is sent once more on a new connection when the
// old one may simply have gone stale (the daemon restarted since the last command).
func (c *Client) Call(ctx context.Context, method string, params ...string) (string, error) {
	outs, err := c.CallAll(ctx, Command{Method: method, Params: params})
	if len(outs) == 0 {
		return "", err
	}
	return outs[0], err
}

// Command is one command of a batch (CallAll).
type Command struct {
	Method string
	Params []string
}

// CallAll runs commands as one batch: it sends them back to back, then reads their replies, which come in order.
// ovs-vswitchd runs up to ten commands of a connection in one pass of its main loop, so a batch waits for one pass
// (which, on a busy switch, includes its reconfigurations and flow bundles) instead of one pass per command.
// Every command runs even if an earlier one is refused: outs holds each command's output ("" for a refused one)
// and err is the first *ServerError. A failed connection is handled as in Call, the whole batch sent again, so a
// batch must be safe to repeat.
func (c *Client) CallAll(ctx context.Context, cmds ...Command) (outs []string, err error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for a connection to %s: %w", cmds[0].Method, c.target, ctx.Err())
	}
	defer func() { <-c.slots }()
	cn := c.takeIdle()
	reused := cn != nil
	outs, cn, err = c.call(ctx, cn, cmds)
	var ce *ConnectError
	var se *ServerError
	if err != nil && reused && !errors.As(err, &ce) && !errors.As(err, &se) && ctx.Err() == nil {
		outs, cn, err = c.call(ctx, nil, cmds)
	}
	c.putIdle(cn)
	return outs, err
}

func (c *Client) takeIdle() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.idle); n > 0 {
		cn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		return cn
	}
	return nil
}

// putIdle keeps a connection that works for the next call (nil: none).
func (c *Client) putIdle(cn *conn) {
	if cn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.gen != c.gen {
		_ = cn.Close()
		return
	}
	c.idle = append(c.idle, cn)
}

// call runs a batch on cn, or on a new connection if cn is nil. It returns the connection if it is still fine
// (a refused command leaves it so), nil after closing it if not.
func (c *Client) call(ctx context.Context, cn *conn, cmds []Command) ([]string, *conn, error) {
	if cn == nil {
		path, err := c.socket()
		if err != nil {
			return nil, nil, &ConnectError{Target: c.target, Err: err}
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, nil, &ConnectError{Target: path, Err: err}
		}
		c.mu.Lock()
		gen := c.gen
		c.mu.Unlock()
		cn = &conn{Conn: nc, dec: json.NewDecoder(nc), gen: gen}
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = cn.SetDeadline(deadline)
	} else {
		_ = cn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = cn.SetDeadline(time.Now()) }) // unblock on cancellation
	defer stop()
	first := cn.nextID + 1
	var reqs []byte
	for _, cmd := range cmds {
		params := cmd.Params
		if params == nil {
			params = []string{}
		}
		cn.nextID++
		req, _ := json.Marshal(map[string]any{"id": cn.nextID, "method": cmd.Method, "params": params})
		reqs = append(reqs, req...)
	}
	method := cmds[0].Method // names the batch in transport errors
	if _, err := cn.Write(reqs); err != nil {
		return nil, nil, c.drop(ctx, cn, method, err)
	}
	outs := make([]string, len(cmds))
	var refused error
	for i := 0; i < len(cmds); {
		var reply struct {
			ID     any             `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := cn.dec.Decode(&reply); err != nil {
			return nil, nil, c.drop(ctx, cn, method, err)
		}
		if reply.Method != "" { // a request from the daemon (OVS sends none to unixctl clients); not ours
			continue
		}
		if n, ok := reply.ID.(float64); !ok || int(n) != first+i {
			return nil, nil, c.drop(ctx, cn, method, fmt.Errorf("reply with id %v to request %d", reply.ID, first+i))
		}
		if len(reply.Error) > 0 && string(reply.Error) != "null" {
			if refused == nil {
				refused = &ServerError{Method: cmds[i].Method, Message: text(reply.Error)}
			}
		} else {
			outs[i] = text(reply.Result)
		}
		i++
	}
	return outs, cn, refused
}

// drop closes a connection that failed; the next call connects again.
func (c *Client) drop(ctx context.Context, cn *conn, method string, err error) error {
	_ = cn.Close()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return fmt.Errorf("%s: talking to %s: %w", method, c.target, err)
}

// text is a JSON-RPC result or error as ovs-appctl prints it: a string as is, anything else as JSON.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// Close closes the connections; one in use is closed when its call ends. The client may be used again.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cn := range c.idle {
		_ = cn.Close()
	}
	c.idle = nil
	c.gen++
}
