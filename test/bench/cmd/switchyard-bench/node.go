package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
)

// swNode is a standalone Switchyard node, set up as test/integration does: a network namespace with a private
// netdev Open vSwitch and the real switchyard-agent (--pod-cidr, no Kubernetes).
type swNode struct {
	ns      string
	dir     string
	ovs     *privateovs.OVS
	podCIDR string
	agent   *exec.Cmd
}

func (n *swNode) confDir() string  { return filepath.Join(n.dir, "net.d") }
func (n *swNode) conflist() string { return filepath.Join(n.confDir(), "10-switchyard.conflist") }

// startSwitchyardNode starts a node with podCIDR; c stops the agent and OVS and removes everything.
func startSwitchyardNode(ctx context.Context, c *cleanups, bins *Binaries, podCIDR string) (*swNode, error) {
	n := &swNode{podCIDR: podCIDR}
	var err error
	if n.ns, err = newNetns(c, "n"); err != nil {
		return nil, err
	}
	if err := sysctls(n.ns, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return nil, err
	}
	if n.dir, err = tempDir(c, "sybn"); err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n.ovs, err = privateovs.Start(octx, privateovs.Options{Dir: filepath.Join(n.dir, "ovs"), Netns: n.ns, FlowRestoreWait: true})
	if err != nil {
		return nil, err
	}
	c.add(func() { _ = n.ovs.Stop() })
	logf, err := os.Create(filepath.Join(n.dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if agentLogDir != "" { // runs after the agent has stopped (cleanups run newest first)
		c.add(func() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				_ = os.WriteFile(filepath.Join(agentLogDir, n.ns+".log"), b, 0o644)
			}
		})
	}
	n.agent = exec.Command("ip", "netns", "exec", n.ns, filepath.Join(bins.Dir, "switchyard-agent"),
		"--node-name", n.ns, "--pod-cidr", podCIDR, "--datapath", "netdev",
		"--ovsdb", "unix:"+n.ovs.DBSocket, "--ovs-rundir", n.ovs.RunDir, "--vswitchd-ctl", n.ovs.VswitchdCtl(),
		"--cni-conf-dir", n.confDir(), "--api-socket", filepath.Join(n.dir, "agent.sock"),
		"--state-dir", filepath.Join(n.dir, "state"), "--log-level", "info")
	n.agent.Stdout, n.agent.Stderr = logf, logf
	if err := n.agent.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = n.agent.Wait(); close(exited) }()
	c.add(func() {
		_ = n.agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = n.agent.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; {
		if _, err := os.Stat(n.conflist()); err == nil {
			return n, nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(n.dir, "agent.log"))
			return nil, fmt.Errorf("switchyard-agent exited before it was ready:\n%s", b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("switchyard-agent not ready after 60 s")
		}
	}
}

// agentPID is the pid of the agent process (ip netns exec execs it in place).
func (n *swNode) agentPID() int { return n.agent.Process.Pid }
