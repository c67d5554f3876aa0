// Command switchyard-lab runs a multi-node Kubernetes cluster on one machine for trying Switchyard and for its e2e
// tests: every node is a network namespace with its own Open vSwitch, switchyard-agent and lab kubelet, under a
// real kube-apiserver, kube-controller-manager and kube-scheduler.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func main() {
	if err := root().Execute(); err != nil {
		os.Exit(exitCode(err))
	}
}

// exitCoder lets a command choose its exit status (probe: 1 refused, 2 timeout).
type exitCoder interface{ ExitCode() int }

func exitCode(err error) int {
	if e, ok := err.(exitCoder); ok {
		return e.ExitCode()
	}
	return 1
}

var stateDir string

func root() *cobra.Command {
	c := &cobra.Command{
		Use:   "switchyard-lab",
		Short: "A multi-node Kubernetes cluster with Switchyard on one machine",
		Long: `switchyard-lab brings up a Kubernetes cluster whose nodes are network namespaces on this machine, each with
its own Open vSwitch (userspace datapath), switchyard-agent and a lab kubelet, under a real control plane
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler; no kube-proxy). Pods are network namespaces; a
container with a command runs it in the pod's namespace, one without is served by a built-in server that answers
every connection with the pod's name.

  switchyard-lab up [--nodes 3] [--mode encap|noEncap|hybrid] [--tunnel geneve|vxlan] [--topology flat|two-subnets]
  switchyard-lab kubectl get pods -A -o wide
  switchyard-lab exec default/web -- ip addr
  switchyard-lab probe default/client 10.244.2.5:80
  switchyard-lab down`,
		SilenceUsage:     true,
		SilenceErrors:    false,
		TraverseChildren: true, // --state before a subcommand with its own flag parsing (kubectl)
	}
	c.PersistentFlags().StringVar(&stateDir, "state", defaultState(), "the lab's state directory (env SWITCHYARD_LAB)")
	c.AddCommand(upCmd(), downCmd(), statusCmd(), tourCmd(), kubectlCmd(), execCmd(), probeCmd(), serveCmd(), kubeletCmd(), forwardCmd())
	return c
}

func defaultState() string {
	if s := os.Getenv("SWITCHYARD_LAB"); s != "" {
		return s
	}
	return "/tmp/switchyard-lab"
}

// selfDir is where this binary lives; switchyard-agent and switchyard-cni are expected beside it.
func selfDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(exe)
}

func say(format string, args ...any) { fmt.Fprintf(os.Stderr, "lab: "+format+"\n", args...) }
