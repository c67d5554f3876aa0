package kubelet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// newSandboxID returns a random 32-hex-digit id for a pod sandbox (the CNI container id).
func newSandboxID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// netnsName is the pod namespace name for a sandbox: prefix plus as much of the id as fits in maxNetnsName.
func netnsName(prefix, sandboxID string) string {
	n := min(maxNetnsName-len(prefix), len(sandboxID), 12)
	return prefix + sandboxID[:n]
}

// netnsPath is the bind-mount path of a named namespace.
func netnsPath(name string) string { return filepath.Join(netnsDir, name) }

// netnsExists says whether the named namespace exists.
func netnsExists(name string) bool {
	_, err := os.Stat(netnsPath(name))
	return err == nil
}

// createNetns creates the named namespace with loopback up.
func createNetns(name string) error {
	if err := ip("netns", "add", name); err != nil {
		return err
	}
	if err := ip("-n", name, "link", "set", "lo", "up"); err != nil {
		_ = deleteNetns(name)
		return err
	}
	return nil
}

// deleteNetns deletes the named namespace; a missing one is fine.
func deleteNetns(name string) error {
	if !netnsExists(name) {
		return nil
	}
	return ip("netns", "del", name)
}

// listNetns returns the names of the namespaces under netnsDir that start with prefix.
func listNetns(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubelet: listing network namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// ip runs iproute2's ip with args.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubelet: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
