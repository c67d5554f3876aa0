package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// cleanups are undone in reverse order when a measurement ends, when the run ends and on SIGINT/SIGTERM, so that
// no namespace, process or directory outlives the run.
type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

// add registers fn.
func (c *cleanups) add(fn func()) {
	c.mu.Lock()
	c.fns = append(c.fns, fn)
	c.mu.Unlock()
}

// run undoes everything registered so far, newest first.
func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// uniqueName returns prefix plus a random suffix: two runs never collide with each other or with tests.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newNetns creates a network namespace "sybn<prefix><random>" with loopback up; c deletes it.
func newNetns(c *cleanups, prefix string) (string, error) {
	name := uniqueName("sybn" + prefix)
	if err := run("ip", "netns", "add", name); err != nil {
		return "", err
	}
	c.add(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name, run("ip", "-n", name, "link", "set", "lo", "up")
}

// run runs a command and returns an error with its output when it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// inNetns runs a command inside a namespace.
func inNetns(ns, name string, args ...string) error {
	return run("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// sysctls sets sysctls ("key=value") inside a namespace.
func sysctls(ns string, kv ...string) error {
	for _, s := range kv {
		if err := inNetns(ns, "sysctl", "-qw", s); err != nil {
			return err
		}
	}
	return nil
}

// tempDir makes a short temporary directory (unix socket paths are limited to 108 bytes); c removes it.
func tempDir(c *cleanups, prefix string) (string, error) {
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	c.add(func() { _ = os.RemoveAll(d) })
	return d, nil
}
