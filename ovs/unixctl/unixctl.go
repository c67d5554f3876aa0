// Package unixctl talks to an Open vSwitch daemon's control socket, as ovs-appctl does, over one connection that
// stays open: a command costs a round trip on a unix socket instead of starting an ovs-appctl process. The
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
// have restarted, under a new pid and so a new socket). Commands are sent one call (or batch) at a time. Safe for
// concurrent use.
type Client struct {
	target, runDir string

	mu     sync.Mutex
	conn   net.Conn
	dec    *json.Decoder
	nextID int
}

// New returns a client for target as ovs-appctl -t understands it: a socket path if it contains a "/", else a
// daemon name whose socket is <runDir>/<name>.<pid>.ctl, the pid read from <runDir>/<name>.pid.
func New(target, runDir string) *Client { return &Client{target: target, runDir: runDir} }

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
	c.mu.Lock()
	defer c.mu.Unlock()
	reused := c.conn != nil
	outs, err = c.call(ctx, cmds)
	var ce *ConnectError
	var se *ServerError
	if err != nil && reused && !errors.As(err, &ce) && !errors.As(err, &se) && ctx.Err() == nil {
		outs, err = c.call(ctx, cmds)
	}
	return outs, err
}

func (c *Client) call(ctx context.Context, cmds []Command) ([]string, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	if c.conn == nil {
		path, err := c.socket()
		if err != nil {
			return nil, &ConnectError{Target: c.target, Err: err}
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, &ConnectError{Target: path, Err: err}
		}
		c.conn, c.dec = conn, json.NewDecoder(conn)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(deadline)
	} else {
		_ = c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Now()) }) // unblock on cancellation
	defer stop()
	first := c.nextID + 1
	var reqs []byte
	for _, cmd := range cmds {
		params := cmd.Params
		if params == nil {
			params = []string{}
		}
		c.nextID++
		req, _ := json.Marshal(map[string]any{"id": c.nextID, "method": cmd.Method, "params": params})
		reqs = append(reqs, req...)
	}
	method := cmds[0].Method // names the batch in transport errors
	if _, err := c.conn.Write(reqs); err != nil {
		return nil, c.drop(ctx, method, err)
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
		if err := c.dec.Decode(&reply); err != nil {
			return nil, c.drop(ctx, method, err)
		}
		if reply.Method != "" { // a request from the daemon (OVS sends none to unixctl clients); not ours
			continue
		}
		if n, ok := reply.ID.(float64); !ok || int(n) != first+i {
			return nil, c.drop(ctx, method, fmt.Errorf("reply with id %v to request %d", reply.ID, first+i))
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
	return outs, refused
}

// drop closes a connection that failed, so the next call connects again.
func (c *Client) drop(ctx context.Context, method string, err error) error {
	_ = c.conn.Close()
	c.conn, c.dec = nil, nil
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

// Close closes the connection, if any. The client may be used again.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.dec = nil, nil
	}
}
