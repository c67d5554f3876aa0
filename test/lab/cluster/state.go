// Package cluster brings the lab up and down: the underlay and namespaces (topology), the Kubernetes control plane,
// and on every node Open vSwitch, the switchyard-agent and the lab kubelet, started the way a DaemonSet starts them.
package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchyard-net/switchyard/test/lab/topology"
)

// Options are what `switchyard-lab up` takes.
type Options struct {
	Name         string // prefixes every namespace
	StateDir     string
	Nodes        int
	Mode         string // encap | noEncap | hybrid
	Tunnel       string // geneve | vxlan
	Topology     string // flat | two-subnets
	UnderlayCIDR string
	Underlay2    string
	ClusterCIDR  string
	ServiceCIDR  string
	BinDir       string // switchyard-agent, switchyard-cni, switchyard-lab
	CPBinDir     string // kube-apiserver, ..., kubectl, etcd
	APIPort      int    // host loopback port of the API forwarder; 0 picks a free one
}

// State is what `up` records in StateDir/lab.json for the other commands.
type State struct {
	Options Options
	APIPort int
}

// Lab is a lab described by its state directory.
type Lab struct {
	State
	Plan *topology.Plan
}

func (o Options) plan() (*topology.Plan, error) {
	return topology.NewPlan(o.Name, o.Nodes, o.Topology, o.UnderlayCIDR, o.Underlay2, o.ClusterCIDR, o.ServiceCIDR)
}

func stateFile(dir string) string { return filepath.Join(dir, "lab.json") }

// Open reads the state of a lab that is up.
func Open(stateDir string) (*Lab, error) {
	b, err := os.ReadFile(stateFile(stateDir))
	if err != nil {
		return nil, fmt.Errorf("no lab at %s (run `switchyard-lab up`): %w", stateDir, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", stateFile(stateDir), err)
	}
	p, err := s.Options.plan()
	if err != nil {
		return nil, err
	}
	return &Lab{State: s, Plan: p}, nil
}

func (l *Lab) save() error {
	b, err := json.MarshalIndent(l.State, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(stateFile(l.Options.StateDir), b, 0o644)
}

// Paths of the lab's files.
func (l *Lab) dir(parts ...string) string {
	return filepath.Join(append([]string{l.Options.StateDir}, parts...)...)
}

// ControlPlaneDir holds the control plane's state.
func (l *Lab) ControlPlaneDir() string { return l.dir("controlplane") }

// Kubeconfig is the admin kubeconfig for use on the host (through the loopback forwarder).
func (l *Lab) Kubeconfig() string { return l.dir("kubeconfig") }

// NodeDir holds node i's OVS, CNI, agent and kubelet files.
func (l *Lab) NodeDir(i int) string { return l.dir("nodes", l.Plan.NodeName(i)) }

func (l *Lab) ovsDir(i int) string      { return filepath.Join(l.NodeDir(i), "ovs") }
func (l *Lab) cniBinDir(i int) string   { return filepath.Join(l.NodeDir(i), "cni", "bin") }
func (l *Lab) cniConfDir(i int) string  { return filepath.Join(l.NodeDir(i), "cni", "net.d") }
func (l *Lab) cniCacheDir(i int) string { return filepath.Join(l.NodeDir(i), "cni", "cache") }
func (l *Lab) agentSocket(i int) string { return filepath.Join(l.NodeDir(i), "run", "agent.sock") }
func (l *Lab) kubeletDir(i int) string  { return filepath.Join(l.NodeDir(i), "kubelet") }
func (l *Lab) agentConfig(i int) string { return filepath.Join(l.NodeDir(i), "agent.yaml") }
func (l *Lab) procDir(i int) string     { return filepath.Join(l.NodeDir(i), "proc") }
func (l *Lab) agentKubeconfig() string  { return l.dir("agent.kubeconfig") }
func (l *Lab) kubeletKubeconfig(i int) string {
	return filepath.Join(l.NodeDir(i), "kubelet.kubeconfig")
}

// ScriptsDir is where start-ovs.sh and install-cni.sh are found: next to the binaries, else in the source tree.
func (l *Lab) scriptsDir() string {
	for _, d := range []string{filepath.Join(l.Options.BinDir, "scripts"), filepath.Join(l.Options.BinDir, "..", "build", "images", "scripts")} {
		if _, err := os.Stat(filepath.Join(d, "start-ovs.sh")); err == nil {
			return d
		}
	}
	return filepath.Join(l.Options.BinDir, "scripts")
}
