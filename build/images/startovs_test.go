package images

import (
	"bufio"
	"errors"
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

// ovs-vswitchd starts with userspace TSO exactly for the netdev datapath in noEncap mode, unless OVS_USERSPACE_TSO
// says otherwise; a restart with another configuration changes it (vswitchd reads it only when it starts); a value
// other than true or false stops the script before anything is created.
func TestStartOVSUserspaceTSO(t *testing.T) {
	for _, c := range []struct {
		name, cfg, env string
		want           bool
	}{
		{"netdev noEncap", "datapathType: netdev\ntrafficMode: noEncap\n", "", true},
		{"netdev encap", "datapathType: netdev\ntrafficMode: encap\n", "", false},
		{"netdev, no mode (encap)", "datapathType: netdev\n", "", false},
		{"netdev noEncap, OVS_USERSPACE_TSO=false", "datapathType: netdev\ntrafficMode: noEncap\n", "false", false},
		{"netdev encap, OVS_USERSPACE_TSO=true", "datapathType: netdev\ntrafficMode: encap\n", "true", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, dir := startOVS(t, c.cfg, "--detach")
			if c.env != "" {
				cmd.Env = append(cmd.Env, "OVS_USERSPACE_TSO="+c.env)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("start-ovs.sh: %v\n%s", err, out)
			}
			out, _ := exec.Command("ovs-vsctl", "--db=unix:"+dir+"/db.sock", "--timeout=5", "get", "Open_vSwitch", ".", "other_config").CombinedOutput()
			if got := strings.Contains(string(out), `userspace-tso-enable="true"`); got != c.want {
				t.Errorf("other_config %s: userspace TSO %t, want %t", strings.TrimSpace(string(out)), got, c.want)
			}
			log, _ := os.ReadFile(filepath.Join(dir, "ovs-vswitchd.log"))
			if got := strings.Contains(string(log), "Userspace TCP Segmentation Offloading support enabled"); got != c.want {
				t.Errorf("ovs-vswitchd enabled userspace TSO: %t, want %t", got, c.want)
			}
		})
	}

	// A restart after the mode changed from noEncap to encap: the key from the first start is removed.
	cmd, dir := startOVS(t, "datapathType: netdev\ntrafficMode: noEncap\n", "--detach")
	again := exec.Command(cmd.Path, cmd.Args[1:]...)
	again.Env = cmd.Env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start-ovs.sh: %v\n%s", err, out)
	}
	for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
		if out, err := exec.Command("ovs-appctl", "-t", filepath.Join(dir, d+".ctl"), "exit").CombinedOutput(); err != nil {
			t.Fatalf("stopping %s: %v %s", d, err, out)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, d+".pid")); errors.Is(err, os.ErrNotExist) {
				break // the daemon removes its pidfile last
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still running 10 s after exit", d)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.yaml"), []byte("datapathType: netdev\ntrafficMode: encap\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("start-ovs.sh again: %v\n%s", err, out)
	}
	if out, _ := exec.Command("ovs-vsctl", "--db=unix:"+dir+"/db.sock", "--timeout=5", "get", "Open_vSwitch", ".", "other_config").CombinedOutput(); strings.Contains(string(out), "userspace-tso-enable") {
		t.Errorf("other_config after a restart in encap mode: %s, want no userspace-tso-enable", strings.TrimSpace(string(out)))
	}

	cmd, dir = startOVS(t, "datapathType: netdev\n", "--detach")
	cmd.Env = append(cmd.Env, "OVS_USERSPACE_TSO=yes")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `OVS_USERSPACE_TSO="yes" must be true or false`) {
		t.Fatalf("OVS_USERSPACE_TSO=yes: %v %s, want exit 2 naming it", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf.db")); err == nil {
		t.Fatal("a database was created for a bad OVS_USERSPACE_TSO")
	}
}
