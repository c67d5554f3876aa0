package cluster

import (
	"path/filepath"
	"strconv"
	"time"

	"github.com/switchyard-net/switchyard/test/lab/proc"
)

// StartAgentBinary starts node i's switchyard-agent from the binary at path with the node's usual configuration and
// identity, as an upgrade starts a new version in place of the old one (stop the old one first: StopAgent).
func (l *Lab) StartAgentBinary(i int, path string) error {
	_, err := proc.Start(proc.Spec{Name: "agent", Dir: l.procDir(i), Netns: l.Plan.NodeNS(i),
		Argv: []string{path, "--config", l.agentConfig(i)}})
	return err
}

// AgentPid is the pid of node i's running agent (ok false when it is not running).
func (l *Lab) AgentPid(i int) (int, bool) { return proc.Alive(l.procDir(i), "agent") }

// RestartKubelet stops node i's lab kubelet (its pods keep running) and starts it again with the same command line,
// as a kubelet restart does: it reconciles its pods and, once the network is ready, runs CNI GC.
func (l *Lab) RestartKubelet(i int) error {
	if err := proc.Stop(l.procDir(i), "kubelet", 10*time.Second); err != nil {
		return err
	}
	_, err := proc.Start(proc.Spec{Name: "kubelet", Dir: l.procDir(i), Netns: l.Plan.NodeNS(i),
		Argv: []string{filepath.Join(l.Options.BinDir, "switchyard-lab"), "kubelet", "--state", l.Options.StateDir,
			"--node", strconv.Itoa(i)}})
	return err
}
