// Package proc runs the lab's long-lived processes (OVS, agents, kubelets, the API forwarder) detached from the
// command that started them, with a pidfile and a log file each, so `switchyard-lab up` can exit while the cluster
// keeps running and `down` can stop exactly what the lab started and nothing else.
package proc

import (
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

// Spec describes one detached process.
type Spec struct {
	Name  string   // pidfile and log file base name
	Dir   string   // where NAME.pid and NAME.log go
	Netns string   // run inside this network namespace ("" = current); the mount namespace stays the host's
	Argv  []string // program and arguments
	Env   []string // added to the environment
}

func pidfile(dir, name string) string { return filepath.Join(dir, name+".pid") }

// LogFile is where a process's stdout and stderr go.
func LogFile(dir, name string) string { return filepath.Join(dir, name+".log") }

// Start starts the process in its own session and returns its pid. It is not waited for: it outlives the caller.
func Start(s Spec) (int, error) {
	if pid, ok := Alive(s.Dir, s.Name); ok {
		return 0, fmt.Errorf("%s is already running (pid %d)", s.Name, pid)
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return 0, err
	}
	argv := s.Argv
	if s.Netns != "" {
		// nsenter enters only the network namespace (and execs: same pid). `ip netns exec` would also give the
		// process a private mount namespace, and network namespaces it then creates under /run/netns (the
		// kubelet's pods) would be invisible to other processes (the agent).
		argv = append([]string{"nsenter", "--net=/run/netns/" + s.Netns, "--"}, argv...)
	}
	logf, err := os.OpenFile(LogFile(s.Dir, s.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", s.Name, err)
	}
	pid := cmd.Process.Pid
	// The pidfile also records the process's start time, so a recycled pid (pids wrap within minutes on a busy
	// machine) is never taken for ours.
	if err := os.WriteFile(pidfile(s.Dir, s.Name), []byte(fmt.Sprintf("%d %d\n", pid, startTime(pid))), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return 0, err
	}
	// Reap it if it dies while we are still around; after we exit, init adopts it.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}

// Alive returns the pid from NAME.pid if that process is running and is the one the pidfile names: for pidfiles
// Start wrote, the same start time; for pidfiles a daemon wrote itself (OVS), a command line that names NAME.
func Alive(dir, name string) (int, bool) {
	b, err := os.ReadFile(pidfile(dir, name))
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 1 || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || strings.Contains(string(stat), ") Z ") { // zombie: gone for our purposes
		return 0, false
	}
	if len(fields) > 1 {
		if want, err := strconv.ParseUint(fields[1], 10, 64); err != nil || want != startTime(pid) {
			return 0, false
		}
		return pid, true
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), name) {
		return 0, false
	}
	return pid, true
}

// startTime is the process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if unknown.
func startTime(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// Stop sends SIGTERM to the process of NAME.pid, waits up to grace, then SIGKILLs it, and removes the pidfile. A
// process that is not running is success.
func Stop(dir, name string, grace time.Duration) error {
	pid, ok := Alive(dir, name)
	if ok {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, grace) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !waitGone(pid, 5*time.Second) {
				return fmt.Errorf("%s (pid %d) did not exit", name, pid)
			}
		}
	}
	if err := os.Remove(pidfile(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Kill sends SIGKILL (a crash) and waits for the process to be gone.
func Kill(dir, name string) error {
	pid, ok := Alive(dir, name)
	if !ok {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if !waitGone(pid, 5*time.Second) {
		return fmt.Errorf("%s (pid %d) did not die", name, pid)
	}
	return nil
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
