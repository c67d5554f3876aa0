package kubelet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrapperScript runs the container's argv ("$@") and records its exit code in the file named by $1, atomically.
// The wrapper shell is the process group and session leader whose pid is in the pidfile.
const wrapperScript = `f=$1; shift; "$@"; echo $? > "$f.tmp" && mv "$f.tmp" "$f"`

// wrapperArgv is the full argv that starts argv inside the named network namespace ("" runs it where the
// kubelet runs) and records its exit code in exitFile. The exit file's path is in the argv, which is how a
// restarted kubelet recognises the process behind a pidfile.
func wrapperArgv(shPath, ipPath, exitFile, netns string, argv []string) []string {
	out := []string{shPath, "-c", wrapperScript, "lab-container", exitFile}
	if netns != "" {
		out = append(out, ipPath, "netns", "exec", netns)
	}
	return append(out, argv...)
}

// startProcess starts the wrapped argv detached from the kubelet: its own session (so neither a signal to the
// kubelet's process group nor the kubelet's exit reaches it), stdin from /dev/null, stdout and stderr appended to
// the log file. It removes the previous run's pid, exit and ready files first and writes the pidfile.
func startProcess(f containerFiles, wrapped, env []string, dir string) error {
	for _, p := range []string{f.Pid, f.Exit, f.Ready} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kubelet: removing %s: %w", p, err)
		}
	}
	logf, err := os.OpenFile(f.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("kubelet: opening log %s: %w", f.Log, err)
	}
	defer logf.Close()
	cmd := exec.Command(wrapped[0], wrapped[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kubelet: starting %s: %w", strings.Join(wrapped, " "), err)
	}
	go func() { _ = cmd.Wait() }() // reap it while this kubelet lives; the exit code goes to the exit file
	if err := writeFileAtomic(f.Pid, []byte(strconv.Itoa(cmd.Process.Pid)+"\n")); err != nil {
		_ = killSession(cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("kubelet: writing pidfile %s: %w", f.Pid, err)
	}
	return nil
}

// procState is what a container's files and /proc say about its current run.
type procState struct {
	Started    bool // a pidfile exists
	Running    bool // the wrapper is alive
	Ready      bool // running and, for the built-in server, its ready file exists
	StartedAt  time.Time
	Exited     bool
	ExitCode   int32
	FinishedAt time.Time
}

// exitUnknown is recorded when a process ended without its wrapper writing an exit code (it was killed).
const exitUnknown = 137

// observeProcess reads the container's pidfile, /proc and exit file. When the process is gone without an exit
// code, it records exitUnknown so the reported finish time stays stable.
func observeProcess(f containerFiles, builtin bool) procState {
	st, err := os.Stat(f.Pid)
	if err != nil {
		return procState{}
	}
	s := procState{Started: true, StartedAt: st.ModTime()}
	pid, err := readPid(f.Pid)
	if err == nil && leaderAlive(pid, f.Exit) {
		s.Running = true
		_, rerr := os.Stat(f.Ready)
		s.Ready = !builtin || rerr == nil
		return s
	}
	code, finished, err := readExit(f.Exit)
	if err != nil {
		code = exitUnknown
		_ = writeFileAtomic(f.Exit, []byte(strconv.Itoa(exitUnknown)+"\n"))
		finished = time.Now()
		if st, err := os.Stat(f.Exit); err == nil {
			finished = st.ModTime()
		}
	}
	s.Exited, s.ExitCode, s.FinishedAt = true, code, finished
	return s
}

// stopProcess sends SIGTERM to every process of the container's session, waits up to grace for them to end,
// then sends SIGKILL and waits up to 2 s more. A container that never started or already ended is fine.
func stopProcess(f containerFiles, grace time.Duration) error {
	pid, err := readPid(f.Pid)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !leaderAlive(pid, f.Exit) {
		// The wrapper is gone. If another live process holds its pid now (pids wrap within minutes), the session
		// id belongs to that process's session: signalling it would kill an unrelated program (another lab's API
		// server was lost this way). Leave it alone.
		if st, ok := readProcStat(pid); ok && st.live() {
			return nil
		}
		if len(sessionMembers(pid)) == 0 {
			return nil
		}
	}
	_ = killSession(pid, syscall.SIGTERM)
	if waitSessionGone(pid, grace) {
		return nil
	}
	_ = killSession(pid, syscall.SIGKILL)
	if waitSessionGone(pid, 2*time.Second) {
		return nil
	}
	return fmt.Errorf("kubelet: processes of session %d (%s) survive SIGKILL", pid, f.Pid)
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("kubelet: pidfile %s holds %q, not a pid", path, b)
	}
	return pid, nil
}

// readExit returns the exit code in path and when it was written.
func readExit(path string) (int32, time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	code, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("kubelet: exit file %s holds %q, not an exit code", path, b)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	return int32(code), st.ModTime(), nil
}

func waitSessionGone(sid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if len(sessionMembers(sid)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killSession signals every live process of the session.
func killSession(sid int, sig syscall.Signal) error {
	var errs []error
	for _, pid := range sessionMembers(sid) {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kubelet: signal %v to pid %d: %w", sig, pid, err))
		}
	}
	return errors.Join(errs...)
}
