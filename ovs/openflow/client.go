package openflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/switchyard-net/switchyard/ovs/unixctl"
)

// DefaultRunDir is where a system Open vSwitch keeps its sockets and pidfiles.
const DefaultRunDir = "/var/run/openvswitch"

// Config says which bridge a Client programs and how to reach it.
type Config struct {
	// Bridge is the bridge name, as ofproto/trace wants it.
	Bridge string
	// Target is ovs-ofctl's switch argument. Empty: "unix:<RunDir>/<Bridge>.mgmt".
	Target string
	// RunDir is OVS_RUNDIR for every command. Empty: DefaultRunDir.
	RunDir string
	// VswitchdCtl is ovs-appctl's -t target. Empty: "ovs-vswitchd", which ovs-appctl resolves
	// through the pidfile in RunDir.
	VswitchdCtl string
	// PrestartBundles keeps one `ovs-ofctl bundle` process started ahead of the next Bundle, so that a
	// bundle does not wait for a process to start (the agent's pod attachments). Call Close to stop it.
	PrestartBundles bool
	// NativeBundles applies bundles of flow adds and strict deletes over an OpenFlow connection kept open to the
	// bridge instead of an ovs-ofctl process each (nativeconn.go); other bundles still go through ovs-ofctl.
	NativeBundles bool
}

// Client programs one bridge over OpenFlow 1.5 with ovs-ofctl and inspects it with ovs-vswitchd's unixctl
// commands (what ovs-appctl sends, over a connection kept open). It is safe for concurrent use; OVS serialises
// the commands.
type Client struct {
	bridge  string
	target  string
	runDir  string
	appctlT string
	ctl     *unixctl.Client

	native         *nativeConn // nil unless Config.NativeBundles
	nativeApplied  atomic.Int64
	nativeFallback atomic.Int64

	prestart bool
	spareMu  sync.Mutex
	spare    *bundleProc    // started, waiting for its bundle (PrestartBundles)
	refills  sync.WaitGroup // refillBundleProc calls under way
	closed   bool
}

// New returns a Client for cfg, filling in the defaults. It does not connect: see Connected.
func New(cfg Config) *Client {
	c := &Client{bridge: cfg.Bridge, target: cfg.Target, runDir: cfg.RunDir, appctlT: cfg.VswitchdCtl,
		prestart: cfg.PrestartBundles}
	if c.runDir == "" {
		c.runDir = DefaultRunDir
	}
	if c.target == "" {
		c.target = "unix:" + filepath.Join(c.runDir, cfg.Bridge+".mgmt")
	}
	if c.appctlT == "" {
		c.appctlT = "ovs-vswitchd"
	}
	c.ctl = unixctl.New(c.appctlT, c.runDir)
	if cfg.NativeBundles {
		c.native = newNativeConn(c.target)
	}
	return c
}

// Bridge is the bridge this Client programs.
func (c *Client) Bridge() string { return c.bridge }

// Target is the ovs-ofctl switch argument this Client uses.
func (c *Client) Target() string { return c.target }

// Connected returns nil if the bridge answers OpenFlow 1.5 requests, else an *UnreachableError
// (or the error that prevented asking).
func (c *Client) Connected(ctx context.Context) error {
	_, err := c.ofctl(ctx, "", "show", c.target)
	return err
}

// PortStats are the OpenFlow port counters of the bridge, as go-openvswitch parses them from
// `ovs-ofctl dump-ports`.
type PortStats = ovs.PortStats

// DumpPorts returns the counters of every port of the bridge, including LOCAL.
func (c *Client) DumpPorts(ctx context.Context) ([]*PortStats, error) {
	stats, err := c.library(ctx).OpenFlow.DumpPorts(c.target)
	if err != nil {
		var libErr *ovs.Error
		if errors.As(err, &libErr) {
			return nil, c.classify("dump-ports", "", string(libErr.Out), libErr.Err)
		}
		return nil, fmt.Errorf("ovs-ofctl dump-ports %s: %w", c.target, err)
	}
	return stats, nil
}

// library is a go-openvswitch client whose commands run through c.run, so they get this
// Client's OVS_RUNDIR and ctx, and talk OpenFlow 1.5.
func (c *Client) library(ctx context.Context) *ovs.Client {
	return ovs.New(
		ovs.Protocols([]string{ovs.ProtocolOpenFlow15}),
		ovs.Exec(func(name string, args ...string) ([]byte, error) {
			stdout, stderr, err := c.run(ctx, nil, name, args...)
			return append(stdout, stderr...), err
		}),
		ovs.Pipe(func(stdin io.Reader, name string, args ...string) ([]byte, error) {
			stdout, stderr, err := c.run(ctx, stdin, name, args...)
			return append(stdout, stderr...), err
		}),
	)
}

// ofctl runs `ovs-ofctl -O OpenFlow15 --no-names <args>` with stdin (if not empty) and returns its
// standard output. Failures come back classified by classify.
func (c *Client) ofctl(ctx context.Context, stdin string, args ...string) (string, error) {
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	full := append([]string{"-O", "OpenFlow15", "--no-names"}, args...)
	stdout, stderr, err := c.run(ctx, in, "ovs-ofctl", full...)
	if err != nil {
		return "", c.classify("ovs-ofctl "+args[0], stdin, string(stderr)+string(stdout), err)
	}
	return string(stdout), nil
}

// appctl runs what `ovs-appctl -t <ctl> <args>` runs, over the kept-open unixctl connection, and returns the
// command's output. Failures come back classified as for ovs-appctl: an unreachable daemon or bridge gives an
// *UnreachableError, a command the daemon refuses a *RejectedError.
func (c *Client) appctl(ctx context.Context, args ...string) (string, error) {
	out, err := c.ctl.Call(ctx, args[0], args[1:]...)
	if err == nil {
		return out, nil
	}
	return "", c.appctlError(ctx, args[0], err)
}

// appctlAll runs commands as one batch (unixctl.Client.CallAll); the error is appctl's for the first that failed.
func (c *Client) appctlAll(ctx context.Context, cmds ...unixctl.Command) error {
	_, err := c.ctl.CallAll(ctx, cmds...)
	if err == nil {
		return nil // also when there were no commands
	}
	method := cmds[0].Method
	var srvErr *unixctl.ServerError
	if errors.As(err, &srvErr) {
		method = srvErr.Method
	}
	return c.appctlError(ctx, method, err)
}

// appctlError turns a unixctl error into the package's: unreachable, rejected or failed.
func (c *Client) appctlError(ctx context.Context, method string, err error) error {
	command := "ovs-appctl " + method
	var connErr *unixctl.ConnectError
	var srvErr *unixctl.ServerError
	switch {
	case errors.As(err, &connErr):
		return &UnreachableError{Command: command, Target: c.appctlT, Output: err.Error()}
	case errors.As(err, &srvErr):
		if strings.Contains(srvErr.Message, "unknown bridge") || strings.Contains(srvErr.Message, "is not a bridge") {
			return &UnreachableError{Command: command, Target: c.bridge, Output: srvErr.Message}
		}
		return &RejectedError{Command: command, Output: srvErr.Message}
	case ctx.Err() != nil:
		return &CommandError{Command: command, Err: err}
	default: // the daemon went away mid-command
		return &UnreachableError{Command: command, Target: c.appctlT, Output: err.Error()}
	}
}

// Close closes the kept-open connection to ovs-vswitchd's control socket and stops the waiting bundle process,
// if any. Bundles still work afterwards, each starting its own process.
func (c *Client) Close() {
	c.ctl.Close()
	if c.native != nil {
		c.native.close()
	}
	c.spareMu.Lock()
	c.closed = true
	c.spareMu.Unlock()
	c.refills.Wait() // a refill under way kills what it started once it sees closed
	c.spareMu.Lock()
	p := c.spare
	c.spare = nil
	c.spareMu.Unlock()
	if p != nil {
		p.kill()
	}
}

// run executes one OVS command with OVS_RUNDIR set and returns stdout and stderr separately, so
// warnings on stderr never reach a parser.
func (c *Client) run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+c.runDir)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return stdout.Bytes(), stderr.Bytes(), err
}
