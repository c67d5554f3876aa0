package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// process is one detached member of the control plane, known by its pidfile in Dir.
type process struct {
	name string
	pid  int
}

// spawn starts BinDir/name with args in its own session (so it outlives the caller and its terminal), inside
// Netns, with stdin from /dev/null and stdout and stderr appended to its log file, and records its pid. The
// caller reaps it if it exits while the caller still runs; once the caller is gone, init does.
func spawn(cfg Config, name string, args []string) (*process, error) {
	l := layout(cfg.Dir)
	for _, dir := range []string{filepath.Dir(l.logFile(name)), filepath.Dir(l.pidFile(name))} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	}
	logFile, err := os.OpenFile(l.logFile(name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "---- %s starting %s\n", time.Now().Format(time.RFC3339), name)

	cmd := exec.Command(filepath.Join(cfg.BinDir, name), args...)
	cmd.Dir = cfg.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile // *os.File: passed straight to the child, no copying goroutine
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := cmd.Start
	if p := cfg.netnsPath(); p != "" {
		// The child inherits the network namespace of the OS thread that forks it.
		start = func() error { return ns.WithNetNSPath(p, func(ns.NetNS) error { return cmd.Start() }) }
	}
	if err := start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go cmd.Wait() //nolint:errcheck // reap it if it dies while we run; its log says why
	proc := &process{name: name, pid: cmd.Process.Pid}
	if err := writeFile(l.pidFile(name), []byte(strconv.Itoa(proc.pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return proc, nil
}

// readProcess reads name's pidfile in dir; a missing pidfile gives (nil, nil).
func readProcess(dir, name string) (*process, error) {
	data, err := os.ReadFile(layout(dir).pidFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pidfile of %s: %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return nil, fmt.Errorf("pidfile %s: %q is not a pid", layout(dir).pidFile(name), strings.TrimSpace(string(data)))
	}
	return &process{name: name, pid: pid}, nil
}

// alive reports whether the process still runs and is ours: /proc/<pid> exists, is not a zombie, and its
// command line runs BinDir/name and mentions dir (so a recycled pid is never taken for ours).
func (p *process) alive(dir, binDir string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	// Right after exec the command line can read as empty for a moment (seen 7 times in 300 starts): read it again
	// rather than take a starting process for a dead one.
	var cmdline []byte
	for try := 0; try < 20; try++ {
		var err error
		if cmdline, err = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid)); err != nil {
			return false
		}
		if len(cmdline) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	argv := strings.Split(string(cmdline), "\x00")
	return argv[0] == filepath.Join(binDir, p.name) && strings.Contains(string(cmdline), dir)
}

// stop sends SIGTERM, waits up to grace for the process to go, then sends SIGKILL and waits up to 5 s more.
// A process that is not alive (or not ours) is left alone, and stop reports it did not signal it. The pidfile
// is removed once the process is gone.
func (p *process) stop(dir, binDir string, grace time.Duration, logf func(string, ...any)) (signalled bool, err error) {
	defer os.Remove(layout(dir).pidFile(p.name))
	if !p.alive(dir, binDir) {
		return false, nil
	}
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("stop %s (pid %d): SIGTERM: %w", p.name, p.pid, err)
	}
	if p.waitGone(dir, binDir, grace) {
		return true, nil
	}
	logf("%s (pid %d) still running %s after SIGTERM; sending SIGKILL", p.name, p.pid, grace)
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("stop %s (pid %d): SIGKILL: %w", p.name, p.pid, err)
	}
	if p.waitGone(dir, binDir, 5*time.Second) {
		return true, nil
	}
	return true, fmt.Errorf("stop %s (pid %d): still running after SIGKILL", p.name, p.pid)
}

// waitGone polls until the process is no longer alive or timeout passes, and reports whether it is gone.
func (p *process) waitGone(dir, binDir string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !p.alive(dir, binDir) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rssBytes is the process's resident set size, from /proc/<pid>/status (0 if it cannot be read).
func (p *process) rssBytes() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// logTail returns the last n lines of name's log file, to explain a process that died.
func logTail(dir, name string, n int) string {
	data, err := os.ReadFile(layout(dir).logFile(name))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
