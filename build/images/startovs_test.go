package images

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// startOVS runs start-ovs.sh in a fresh namespace with private directories, as the DaemonSet's switchyard-ovs
// container does (foreground unless args say --detach), with the agent's configuration file holding cfg.
func startOVS(t *testing.T, cfg string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	nettest.RequireOVS(t)
	ns := nettest.NewNetns(t, "so")
	dir, err := os.MkdirTemp("", "sy-so-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
			_ = exec.Command("ovs-appctl", "-t", filepath.Join(dir, d+".ctl"), "exit").Run()
		}
		os.RemoveAll(dir)
	})
	conf := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "bash", filepath.Join(scriptsDir(t), "start-ovs.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir, "OVS_SYSCONFDIR="+dir,
		"SWITCHYARD_AGENT_CONFIG="+conf)
	return cmd, dir
}

// In the foreground (the container's mode) the script runs OVS until SIGTERM, then stops both daemons and exits 0.
func TestStartOVSForegroundStopsOnTERM(t *testing.T) {
	cmd, dir := startOVS(t, "# agent.yaml\ndatapathType: \"netdev\"   # userspace\n")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	waitLine(t, lines, "running", 30*time.Second)
	if out, err := exec.Command("ovs-vsctl", "--db=unix:"+dir+"/db.sock", "--timeout=5", "add-br", "br-test",
		"--", "set", "bridge", "br-test", "datapath_type=netdev").CombinedOutput(); err != nil {
		t.Fatalf("OVS does not work: %v %s", err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, "stopping", 10*time.Second)
	for range lines {
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start-ovs.sh exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("start-ovs.sh did not exit after SIGTERM")
	}
	for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
		if exec.Command("ovs-appctl", "-t", filepath.Join(dir, d+".ctl"), "version").Run() == nil {
			t.Errorf("%s still answers after the container stopped", d)
		}
	}
}

func waitLine(t *testing.T, lines <-chan string, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("start-ovs.sh ended before saying %q", want)
			}
			t.Log(l)
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("start-ovs.sh did not say %q within %v", want, timeout)
		}
	}
}

// The datapath comes from the agent's configuration (the ConfigMap): an unknown one stops the script before
// anything is created; "system" without a loadable openvswitch module fails with a message that says what to do.
func TestStartOVSDatapathFromConfig(t *testing.T) {
	cmd, dir := startOVS(t, "datapathType: 'bogus'\n", "--detach")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown datapath "bogus"`) {
		t.Fatalf("datapathType bogus: %v %s, want exit 2 naming it", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf.db")); err == nil {
		t.Fatal("a database was created for a bad datapath")
	}

	if _, err := os.Stat("/sys/module/openvswitch"); err == nil || exec.Command("modprobe", "-n", "openvswitch").Run() == nil {
		t.Log("the openvswitch module is available here: the failure path is not exercised")
		return
	}
	cmd, _ = startOVS(t, "bridge: br-int\n", "--detach") // no datapathType: the agent's default, system
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "datapathType: netdev") {
		t.Fatalf("system datapath without the module: %v %s, want a failure that suggests netdev", err, out)
	}
}
