package openflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// Bundle applies all mods in one atomic OpenFlow 1.5 bundle (`ovs-ofctl bundle <switch> -`):
// either every mod takes effect or none does. A mod that does not parse or that the switch
// refuses makes it return a *RejectedError naming the line or the decoded mod; an unreachable
// bridge gives an *UnreachableError. No mods: nothing runs.
func (c *Client) Bundle(ctx context.Context, mods []Mod) error {
	if len(mods) == 0 {
		return nil
	}
	text, err := BundleText(mods)
	if err != nil {
		return err
	}
	if c.native != nil {
		done, err := c.nativeBundle(ctx, mods)
		if done {
			return err
		}
	}
	if !c.prestart {
		_, err = c.ofctl(ctx, text, "bundle", c.target, "-")
		return err
	}
	p, err := c.takeBundleProc()
	if err != nil {
		return &CommandError{Command: "ovs-ofctl bundle", Err: err}
	}
	stdout, stderr, err := p.run(ctx, text)
	if err != nil {
		return c.classify("ovs-ofctl bundle", text, string(stderr)+string(stdout), err)
	}
	return nil
}

// nativeBundle tries the bundle on the kept-open OpenFlow connection. done is false when ovs-ofctl must apply it:
// a mod the native encoder does not know, or a connection that failed (adds and strict deletes may be applied
// twice, so a bundle that did get through before the failure is harmlessly applied again).
func (c *Client) nativeBundle(ctx context.Context, mods []Mod) (done bool, err error) {
	err = c.native.bundle(ctx, mods)
	var rej *rejection
	switch {
	case err == nil:
		c.nativeApplied.Add(1)
		return true, nil
	case errors.As(err, &rej):
		c.nativeApplied.Add(1)
		what := "the bundle"
		if rej.mod >= 0 && rej.mod < len(mods) {
			what, _ = mods[rej.mod].Line()
		}
		return true, &RejectedError{Command: "openflow bundle", Output: fmt.Sprintf("%s: %s", rej.err, what)}
	case ctx.Err() != nil:
		return true, &CommandError{Command: "openflow bundle", Err: err}
	default: // errNotEncodable, or the connection failed
		c.nativeFallback.Add(1)
		return false, nil
	}
}

// WatchPortAdded watches for the switch's report that the port called name was added (over the native
// connection, Config.NativeBundles). wait blocks until the report has come and the switch has answered a barrier
// sent after it (so the port forwards: vswitchd has also updated its packet translation), and returns the port's
// OpenFlow number; stop ends the watch. ok is false when nothing will be reported (no native connection open
// yet): wait for OVSDB instead. The report comes while ovs-vswitchd reconfigures, before it writes the port's
// number to OVSDB at the end of the reconfiguration, which on a node with many ports takes milliseconds.
func (c *Client) WatchPortAdded(name string) (wait func(context.Context) (uint32, error), stop func(), ok bool) {
	if c.native == nil {
		return nil, func() {}, false
	}
	added, stop, ok := c.native.watchPortAdded(name)
	if !ok {
		return nil, stop, false
	}
	return func(ctx context.Context) (uint32, error) {
		select {
		case port := <-added:
			if err := c.native.barrier(ctx); err != nil {
				return 0, err
			}
			return port, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, stop, true
}

// NativeBundleCounts says how many bundles went over the native OpenFlow connection and how many fell back to
// ovs-ofctl (Config.NativeBundles).
func (c *Client) NativeBundleCounts() (native, fallback int64) {
	return c.nativeApplied.Load(), c.nativeFallback.Load()
}

// bundleProc is an `ovs-ofctl bundle <switch> -` process started before it is needed (Config.PrestartBundles): it
// spends its start-up (exec, dynamic linking, initialisation: most of a small bundle's time) while nobody waits,
// then blocks reading the bundle from its standard input. ovs-ofctl reads and parses the whole bundle before it
// connects to the switch, so a waiting process holds no connection.
type bundleProc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr bytes.Buffer
}

func (c *Client) startBundleProc() (*bundleProc, error) {
	p := &bundleProc{cmd: exec.Command("ovs-ofctl", "-O", "OpenFlow15", "--no-names", "bundle", c.target, "-")}
	p.cmd.Env = append(os.Environ(), "OVS_RUNDIR="+c.runDir)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// takeBundleProc returns the waiting process, or starts one if there is none, and has the next one started in
// the background.
func (c *Client) takeBundleProc() (*bundleProc, error) {
	c.spareMu.Lock()
	p, closed := c.spare, c.closed
	c.spare = nil
	if !closed {
		c.refills.Add(1) // under the lock, so Close waits for it
	}
	c.spareMu.Unlock()
	if !closed {
		go c.refillBundleProc()
	}
	if p != nil {
		return p, nil
	}
	return c.startBundleProc()
}

// refillBundleProc starts a waiting process unless there is one already or the Client is closed.
func (c *Client) refillBundleProc() {
	defer c.refills.Done()
	p, err := c.startBundleProc()
	if err != nil {
		return // the next Bundle starts its own process and reports the error
	}
	c.spareMu.Lock()
	keep := c.spare == nil && !c.closed
	if keep {
		c.spare = p
	}
	c.spareMu.Unlock()
	if !keep {
		p.kill()
	}
}

// run hands the process its bundle and waits for it to finish (killing it if ctx ends first).
func (p *bundleProc) run(ctx context.Context, text string) (stdout, stderr []byte, err error) {
	done := make(chan error, 1)
	go func() {
		_, werr := io.WriteString(p.stdin, text)
		_ = p.stdin.Close()
		err := p.cmd.Wait()
		if err == nil && werr != nil {
			err = werr
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		err = fmt.Errorf("%w (%v)", ctx.Err(), <-done)
	}
	return p.stdout.Bytes(), p.stderr.Bytes(), err
}

// kill stops a waiting process without letting it send anything (closing its input would send an empty bundle).
func (p *bundleProc) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}
