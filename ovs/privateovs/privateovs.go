// Package privateovs runs a private Open vSwitch (ovsdb-server + ovs-vswitchd) for tests and the lab: its own
// database, run, log and control files in one directory, optionally inside a given network namespace, so several
// instances (one per lab node) coexist on one machine without touching the system's OVS.
//
// ovs-vswitchd caches the kernel routes of the namespace it runs in (userspace tunnels use them) and creates its
// tap devices there, so it is started inside Netns; ovsdb-server is started there too.
package privateovs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Schema is the Open_vSwitch database schema installed by Debian's openvswitch-common.
const Schema = "/usr/share/openvswitch/vswitch.ovsschema"

// Options configure a private OVS.
type Options struct {
	// Dir holds conf.db, db.sock, *.ctl, *.pid, *.log and the bridges' .mgmt sockets. It is created if
	// missing. Empty: a new temporary directory, removed by Stop.
	Dir string
	// Netns is the name of a network namespace (as in /run/netns/<name>) to run the daemons in. Empty: the
	// caller's namespace.
	Netns string
	// FlowRestoreWait starts ovs-vswitchd with other_config:flow-restore-wait=true, as a node does before its
	// agent has replayed the flows. The agent clears it.
	FlowRestoreWait bool
	// UserspaceTSO starts ovs-vswitchd with other_config:userspace-tso-enable=true, as start-ovs.sh does on a
	// netdev node in noEncap mode (vswitchd reads it only when it starts).
	UserspaceTSO bool
}

// OVS is a running private Open vSwitch.
type OVS struct {
	Dir      string // everything lives here
	Netns    string
	DBSocket string // unix socket of ovsdb-server: pass to libovsdb as "unix:" + DBSocket
	RunDir   string // OVS_RUNDIR: where <bridge>.mgmt sockets are created

	ownDir bool
}

// VswitchdCtl is the unixctl socket of ovs-vswitchd (ovs-appctl -t).
func (o *OVS) VswitchdCtl() string { return filepath.Join(o.Dir, "ovs-vswitchd.ctl") }

// DBCtl is the unixctl socket of ovsdb-server.
func (o *OVS) DBCtl() string { return filepath.Join(o.Dir, "ovsdb-server.ctl") }

// BridgeMgmt is the OpenFlow management socket of a bridge, usable as ovs-ofctl's switch argument
// ("unix:" + BridgeMgmt(br)).
func (o *OVS) BridgeMgmt(bridge string) string { return filepath.Join(o.RunDir, bridge+".mgmt") }

// Env is the environment every ovs-* command of this instance needs.
func (o *OVS) Env() []string {
	return []string{"OVS_RUNDIR=" + o.Dir, "OVS_LOGDIR=" + o.Dir, "OVS_DBDIR=" + o.Dir, "OVS_SYSCONFDIR=" + o.Dir}
}

// Start creates the database and starts ovsdb-server and ovs-vswitchd. It returns once both answer.
func Start(ctx context.Context, opts Options) (*OVS, error) {
	o := &OVS{Dir: opts.Dir, Netns: opts.Netns}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "switchyard-ovs-")
		if err != nil {
			return nil, err
		}
		o.Dir, o.ownDir = d, true
	} else if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	o.RunDir = o.Dir
	o.DBSocket = filepath.Join(o.Dir, "db.sock")
	// unix socket paths are limited to 108 bytes.
	if len(o.BridgeMgmt("br-int-xxxxxxxx")) > 100 {
		return nil, fmt.Errorf("private OVS dir %q is too long for unix socket paths", o.Dir)
	}
	if err := o.start(ctx, opts); err != nil {
		_ = o.Stop()
		return nil, err
	}
	return o, nil
}

func (o *OVS) start(ctx context.Context, opts Options) error {
	db := filepath.Join(o.Dir, "conf.db")
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		if out, err := o.command(ctx, false, "ovsdb-tool", "create", db, Schema).CombinedOutput(); err != nil {
			return fmt.Errorf("ovsdb-tool create: %v: %s", err, out)
		}
	}
	if err := o.run(ctx, true, "ovsdb-server", "-vconsole:off", db, "--remote=punix:"+o.DBSocket,
		"--pidfile="+o.pidfile("ovsdb-server"), "--unixctl="+o.DBCtl(),
		"--log-file="+filepath.Join(o.Dir, "ovsdb-server.log"), "--detach", "--no-chdir"); err != nil {
		return err
	}
	args := []string{"--no-wait", "init"}
	if opts.FlowRestoreWait {
		args = append(args, "--", "set", "Open_vSwitch", ".", "other_config:flow-restore-wait=true")
	}
	if opts.UserspaceTSO {
		args = append(args, "--", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
	}
	if err := o.Vsctl(ctx, args...); err != nil {
		return err
	}
	return o.StartVswitchd(ctx)
}

// StartVswitchd starts ovs-vswitchd (again, after StopVswitchd) and waits until it has read the database.
func (o *OVS) StartVswitchd(ctx context.Context) error {
	if err := o.run(ctx, true, "ovs-vswitchd", "-vconsole:off", "unix:"+o.DBSocket,
		"--pidfile="+o.pidfile("ovs-vswitchd"), "--unixctl="+o.VswitchdCtl(),
		"--log-file="+filepath.Join(o.Dir, "ovs-vswitchd.log"), "--detach", "--no-chdir"); err != nil {
		return err
	}
	// ovs-vsctl without --no-wait returns once vswitchd has applied the database.
	return o.Vsctl(ctx, "--timeout=30", "init")
}

// StopVswitchd stops ovs-vswitchd only (all OpenFlow flows are lost, as on a real restart).
func (o *OVS) StopVswitchd() error { return o.stopDaemon("ovs-vswitchd") }

// StopDB stops ovsdb-server only.
func (o *OVS) StopDB() error { return o.stopDaemon("ovsdb-server") }

// StartDB starts ovsdb-server again on the same database.
func (o *OVS) StartDB(ctx context.Context) error {
	return o.run(ctx, true, "ovsdb-server", "-vconsole:off", filepath.Join(o.Dir, "conf.db"),
		"--remote=punix:"+o.DBSocket, "--pidfile="+o.pidfile("ovsdb-server"), "--unixctl="+o.DBCtl(),
		"--log-file="+filepath.Join(o.Dir, "ovsdb-server.log"), "--detach", "--no-chdir")
}

// Stop stops both daemons and removes the directory if Start created it. Safe to call twice.
func (o *OVS) Stop() error {
	errV := o.stopDaemon("ovs-vswitchd")
	errD := o.stopDaemon("ovsdb-server")
	if o.ownDir {
		if err := os.RemoveAll(o.Dir); err != nil {
			return err
		}
	}
	return errors.Join(errV, errD)
}

// Vsctl runs ovs-vsctl against this instance (for tests and lab setup; product code uses OVSDB directly).
func (o *OVS) Vsctl(ctx context.Context, args ...string) error {
	full := append([]string{"--db=unix:" + o.DBSocket}, args...)
	if out, err := o.command(ctx, false, "ovs-vsctl", full...).CombinedOutput(); err != nil {
		return fmt.Errorf("ovs-vsctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Appctl runs ovs-appctl against this instance's ovs-vswitchd and returns its output.
func (o *OVS) Appctl(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-t", o.VswitchdCtl()}, args...)
	out, err := o.command(ctx, false, "ovs-appctl", full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ovs-appctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Ofctl runs ovs-ofctl -O OpenFlow15 with a bridge name replaced by its management socket.
func (o *OVS) Ofctl(ctx context.Context, cmd, bridge string, args ...string) (string, error) {
	full := append([]string{"-O", "OpenFlow15", cmd, "unix:" + o.BridgeMgmt(bridge)}, args...)
	out, err := o.command(ctx, false, "ovs-ofctl", full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ovs-ofctl %s %s: %v: %s", cmd, bridge, err, out)
	}
	return string(out), nil
}

// VswitchdPID is the pid of the running ovs-vswitchd (0 if none).
func (o *OVS) VswitchdPID() int { return o.pid("ovs-vswitchd") }

// DBServerPID is the pid of the running ovsdb-server (0 if none).
func (o *OVS) DBServerPID() int { return o.pid("ovsdb-server") }

func (o *OVS) pidfile(daemon string) string { return filepath.Join(o.Dir, daemon+".pid") }

func (o *OVS) pid(daemon string) int {
	b, err := os.ReadFile(o.pidfile(daemon))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	// A stale pidfile may name a recycled pid: only a process running this daemon is ours.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmdline), daemon) {
		return 0
	}
	return pid
}

// stopDaemon sends SIGTERM and waits up to 5 s, then SIGKILL. Only the pid in our own pidfile is signalled.
func (o *OVS) stopDaemon(daemon string) error {
	pid := o.pid(daemon)
	if pid == 0 {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = os.Remove(o.pidfile(daemon))
	return nil
}

func (o *OVS) run(ctx context.Context, inNetns bool, name string, args ...string) error {
	if out, err := o.command(ctx, inNetns, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
}

// command builds an ovs-* command with this instance's environment, inside the namespace when asked.
func (o *OVS) command(ctx context.Context, inNetns bool, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if inNetns && o.Netns != "" {
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", o.Netns, name}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	cmd.Env = append(os.Environ(), o.Env()...)
	return cmd
}
