// Package nettest has the helpers integration tests share: unique network namespaces that are removed when the
// test ends, and skips for machines without root or Open vSwitch.
package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// RequireOVS skips the test unless it runs as root with the Open vSwitch binaries installed.
func RequireOVS(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	for _, b := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs Open vSwitch (%s not found; run make deps)", b)
		}
	}
}

// UniqueName returns prefix plus a random suffix: two test runs never collide.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// NewNetns creates a network namespace with a unique name (loopback up) and deletes it when the test ends.
func NewNetns(t testing.TB, prefix string) string {
	t.Helper()
	name := UniqueName("sy" + prefix)
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Run runs a command and fails the test with its output if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// InNetns runs a command inside a namespace and returns its combined output and error.
func InNetns(ns string, name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}

// LinkExistsIn says whether a link of that name exists in the namespace.
func LinkExistsIn(t testing.TB, ns, link string) bool {
	t.Helper()
	return exec.Command("ip", "-n", ns, "link", "show", link).Run() == nil
}

// ProcessAlive returns nil if a process with that pid exists.
func ProcessAlive(pid int) error { return syscall.Kill(pid, 0) }
