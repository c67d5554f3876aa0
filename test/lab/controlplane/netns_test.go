package controlplane

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// newNetns creates a uniquely named network namespace with lo up and the extra loopback addresses given,
// and deletes it when the test ends, killing first any process still in it (only this test's processes can be
// in a namespace it made, and one left running means the test failed before stopping it).
func newNetns(t *testing.T, addrs ...string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "swy-cp-" + hex.EncodeToString(b)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					t.Errorf("process %d left in netns %s; killing it", pid, name)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	for _, a := range addrs {
		run(t, "ip", "-n", name, "addr", "add", a, "dev", "lo")
	}
	return name
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
