package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine names what a run measured on: the commit, the cores, the kernel, the OVS version and datapath.
type Machine struct {
	Commit   string // git rev-parse HEAD, with "+dirty" when the work tree has changes
	Cores    int
	Kernel   string
	OVS      string
	Iperf    string
	Datapath string
	Started  time.Time
	LoadAvg  string // /proc/loadavg when the run started: other work on the machine skews every figure
}

// describeMachine gathers Machine for the repository at repo.
func describeMachine(ctx context.Context, repo string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Datapath: "netdev (userspace)", Started: time.Now()}
	m.Commit = firstLine(cmdOut(ctx, repo, "git", "rev-parse", "HEAD"))
	if cmdOut(ctx, repo, "git", "status", "--porcelain", "--untracked-files=no") != "" {
		m.Commit += "+dirty"
	}
	m.Kernel = firstLine(cmdOut(ctx, "", "uname", "-r"))
	m.OVS = firstLine(cmdOut(ctx, "", "ovs-vswitchd", "--version"))
	m.Iperf = firstLine(cmdOut(ctx, "", "iperf3", "--version"))
	m.LoadAvg = loadAvg()
	return m
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cmdOut runs a command and returns its trimmed output, or "?" when it fails.
func cmdOut(ctx context.Context, dir, name string, args ...string) string {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	out, err := c.Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// String is the one-line description printed at the top of the report.
func (m Machine) String() string {
	return fmt.Sprintf("commit %s · %d cores · kernel %s · %s, datapath %s · %s · load average at start %s",
		m.Commit, m.Cores, m.Kernel, m.OVS, m.Datapath, m.Iperf, m.LoadAvg)
}
