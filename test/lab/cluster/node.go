package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-net/switchyard/test/lab/proc"
)

// startNode starts node i's Open vSwitch (start-ovs.sh, as the DaemonSet's switchyard-ovs container does), installs
// the CNI plugin (install-cni.sh, as the init container does), and starts the switchyard-agent and the lab kubelet
// inside the node's namespace.
func (l *Lab) startNode(i int) error {
	ns := l.Plan.NodeNS(i)
	for _, d := range []string{l.ovsDir(i), l.cniBinDir(i), l.cniConfDir(i), l.cniCacheDir(i), l.kubeletDir(i), l.procDir(i)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The agent's configuration first: start-ovs.sh reads it (the userspace TSO of noEncap), as in the DaemonSet.
	if err := os.WriteFile(l.agentConfig(i), []byte(l.agentYAML(i)), 0o600); err != nil {
		return err
	}
	if err := l.startOVS(i); err != nil {
		return err
	}
	install := exec.Command("bash", filepath.Join(l.scriptsDir(), "install-cni.sh"))
	install.Env = append(os.Environ(), "SWITCHYARD_CNI_SRC="+filepath.Join(l.Options.BinDir, "switchyard-cni"),
		"CNI_BIN_DIR="+l.cniBinDir(i))
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: install-cni.sh: %v: %s", l.Plan.NodeName(i), err, out)
	}
	if err := l.StartAgent(i); err != nil {
		return err
	}
	_, err := proc.Start(proc.Spec{Name: "kubelet", Dir: l.procDir(i), Netns: ns,
		Argv: []string{filepath.Join(l.Options.BinDir, "switchyard-lab"), "kubelet", "--state", l.Options.StateDir,
			"--node", strconv.Itoa(i)}})
	return err
}

// startOVS runs start-ovs.sh inside the node's namespace with the node's private directories.
func (l *Lab) startOVS(i int) error {
	cmd := exec.Command("ip", "netns", "exec", l.Plan.NodeNS(i), "bash", filepath.Join(l.scriptsDir(), "start-ovs.sh"), "--detach")
	cmd.Env = append(os.Environ(), l.ovsEnv(i)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: start-ovs.sh: %v: %s", l.Plan.NodeName(i), err, out)
	}
	return nil
}

func (l *Lab) ovsEnv(i int) []string {
	d := l.ovsDir(i)
	return []string{"OVS_RUNDIR=" + d, "OVS_DBDIR=" + d, "OVS_LOGDIR=" + d, "OVS_SYSCONFDIR=" + d,
		"OVS_SYSTEM_ID=" + l.Plan.NodeName(i), "SWITCHYARD_AGENT_CONFIG=" + l.agentConfig(i)}
}

// StartAgent starts node i's switchyard-agent (also used by tests that restart it).
func (l *Lab) StartAgent(i int) error {
	_, err := proc.Start(proc.Spec{Name: "agent", Dir: l.procDir(i), Netns: l.Plan.NodeNS(i),
		Argv: []string{filepath.Join(l.Options.BinDir, "switchyard-agent"), "--config", l.agentConfig(i)}})
	return err
}

// StopAgent stops node i's agent; kill simulates a crash (SIGKILL).
func (l *Lab) StopAgent(i int, kill bool) error {
	if kill {
		return proc.Kill(l.procDir(i), "agent")
	}
	return proc.Stop(l.procDir(i), "agent", 10*time.Second)
}

// agentYAML is node i's agent configuration, as the DaemonSet's ConfigMap would hold it.
func (l *Lab) agentYAML(i int) string {
	d := l.ovsDir(i)
	kv := [][2]string{
		{"nodeName", l.Plan.NodeName(i)},
		{"kubeconfig", l.agentKubeconfig()},
		{"ovsdbEndpoint", "unix:" + filepath.Join(d, "db.sock")},
		{"ovsRunDir", d},
		{"vswitchdCtl", filepath.Join(d, "ovs-vswitchd.ctl")},
		{"datapathType", "netdev"},
		{"trafficMode", l.Options.Mode},
		{"tunnelType", l.Options.Tunnel},
		{"serviceCIDR", l.Options.ServiceCIDR},
		{"cniConfDir", l.cniConfDir(i)},
		{"apiSocket", l.agentSocket(i)},
		{"stateDir", filepath.Join(l.NodeDir(i), "agent")},
	}
	var b strings.Builder
	b.WriteString("# switchyard-agent configuration of lab node " + l.Plan.NodeName(i) + "\n")
	for _, e := range kv {
		fmt.Fprintf(&b, "%s: %q\n", e[0], e[1])
	}
	return b.String()
}

// stopNode stops node i's kubelet (after removing its pods), agent and Open vSwitch.
func (l *Lab) stopNode(i int) error {
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	note(proc.Stop(l.procDir(i), "kubelet", 10*time.Second))
	note(l.teardownPods(i))
	note(proc.Stop(l.procDir(i), "agent", 10*time.Second))
	note(proc.Stop(l.ovsDir(i), "ovs-vswitchd", 10*time.Second))
	note(proc.Stop(l.ovsDir(i), "ovsdb-server", 10*time.Second))
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", l.Plan.NodeName(i), strings.Join(errs, "; "))
	}
	return nil
}
