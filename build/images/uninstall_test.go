package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// node is a fake Switchyard node in a network namespace, left as a netdev agent in encap mode leaves it: OVS started
// by start-ovs.sh, br-int with the gateway and a pod veth, br-phy holding the node's address and default route
// taken from nic0, a peer route (proto 94), the nftables table, the CNI files and the state directories.
type node struct {
	ns, peerNS string
	root       string   // HOST_ROOT: every host path lives below it
	ovsEnv     []string // the OVS_* directories, below root as the DaemonSet has them
}

func newNode(t *testing.T) *node {
	t.Helper()
	nettest.RequireOVS(t)
	for _, b := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s", b)
		}
	}
	n := &node{ns: nettest.NewNetns(t, "un"), peerNS: nettest.NewNetns(t, "unp")}
	dir, err := os.MkdirTemp("", "sy-un-")
	if err != nil {
		t.Fatal(err)
	}
	n.root = dir
	n.ovsEnv = []string{"OVS_RUNDIR=" + dir + "/var/run/openvswitch", "OVS_DBDIR=" + dir + "/var/lib/switchyard/openvswitch",
		"OVS_LOGDIR=" + dir + "/var/log/switchyard/openvswitch", "OVS_SYSCONFDIR=" + dir + "/var/lib/switchyard/openvswitch"}
	t.Cleanup(func() {
		for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
			_ = exec.Command("ovs-appctl", "-t", dir+"/var/run/openvswitch/"+d+".ctl", "exit").Run()
		}
		os.RemoveAll(dir)
	})
	n.sh(t, "bash", scriptsDir(t)+"/start-ovs.sh", "--detach")
	run := func(args ...string) { t.Helper(); n.sh(t, args...) }
	nettest.Run(t, "ip", "link", "add", "nic0", "netns", n.ns, "type", "veth", "peer", "name", "eth0", "netns", n.peerNS)
	nettest.Run(t, "ip", "-n", n.peerNS, "addr", "add", "192.168.201.2/24", "dev", "eth0")
	nettest.Run(t, "ip", "-n", n.peerNS, "link", "set", "eth0", "up")
	nettest.Run(t, "ip", "netns", "exec", n.peerNS, "ethtool", "-K", "eth0", "tx", "off")
	run("ip", "link", "set", "nic0", "up")
	run("ip", "link", "add", "sy0123456789ab", "type", "veth", "peer", "name", "podeth0")
	vsctl := func(args ...string) {
		t.Helper()
		run(append([]string{"ovs-vsctl", "--db=unix:" + dir + "/var/run/openvswitch/db.sock"}, args...)...)
	}
	vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure",
		"--", "add-port", "br-int", "switchyard-gw0", "--", "set", "interface", "switchyard-gw0", "type=internal",
		"--", "add-port", "br-int", "sy0123456789ab")
	vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev", "other_config:hwaddr=0a:00:c0:a8:c9:01",
		"--", "add-port", "br-phy", "nic0")
	run("ip", "link", "set", "nic0", "arp", "off")
	run("ip", "link", "set", "br-phy", "up")
	run("ip", "addr", "add", "192.168.201.1/24", "dev", "br-phy")
	run("ip", "route", "add", "default", "via", "192.168.201.254", "dev", "br-phy")
	run("ip", "link", "set", "switchyard-gw0", "up")
	run("ip", "addr", "add", "10.244.1.1/24", "dev", "switchyard-gw0")
	run("ip", "route", "add", "10.244.2.0/24", "via", "10.244.2.1", "dev", "switchyard-gw0", "onlink", "proto", "94")
	n.sh(t, "nft", "add table ip switchyard; add chain ip switchyard postrouting { type nat hook postrouting priority srcnat; }")
	n.sh(t, "nft", "add table ip switchyard-services; add table ip other")
	for _, f := range []string{"etc/cni/net.d/10-switchyard.conflist", "etc/cni/net.d/99-other.conflist", "opt/cni/bin/switchyard",
		"opt/cni/bin/loopback", "var/lib/switchyard/ipam/switchyard/10.244.1.2", "var/run/switchyard/agent.sock",
		"var/log/switchyard/agent.log"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.ping(t, true) // the node reaches its underlay peer through br-phy
	return n
}

// sh runs a command inside the node's namespace with the OVS environment, failing the test if it fails.
func (n *node) sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := n.try(args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (n *node) try(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns}, args...)...)
	cmd.Env = append(append(os.Environ(), n.ovsEnv...), "HOST_ROOT="+n.root)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (n *node) ping(t *testing.T, want bool) {
	t.Helper()
	_, err := n.try("ping", "-c", "1", "-W", "2", "192.168.201.2")
	if (err == nil) != want {
		t.Fatalf("ping from the node to its underlay peer: err %v, want success %v\n%s", err, want, n.sh(t, "ip", "addr"))
	}
}

func (n *node) uninstall(t *testing.T) string {
	t.Helper()
	return n.sh(t, "bash", scriptsDir(t)+"/uninstall.sh")
}

// assertClean checks that nothing of Switchyard is left and that the node's address and default route are back
// on nic0, with ARP, reaching the underlay.
func (n *node) assertClean(t *testing.T, ovsRunning bool) {
	t.Helper()
	links := n.sh(t, "ip", "-o", "link")
	for _, l := range []string{"br-int", "br-phy", "switchyard-gw0", "sy0123456789ab", "podeth0"} {
		if strings.Contains(links, ": "+l+":") || strings.Contains(links, ": "+l+"@") {
			t.Errorf("link %s left:\n%s", l, links)
		}
	}
	if strings.Contains(links, "nic0") && strings.Contains(strings.SplitAfter(links, "nic0")[1], "NOARP") {
		t.Errorf("nic0 still NOARP:\n%s", links)
	}
	if a := n.sh(t, "ip", "-o", "addr", "show", "dev", "nic0"); !strings.Contains(a, "192.168.201.1/24") {
		t.Errorf("nic0 did not get the node address back: %s", a)
	}
	if r := n.sh(t, "ip", "route", "show", "default"); !strings.Contains(r, "via 192.168.201.254 dev nic0") {
		t.Errorf("default route not back on nic0: %q", r)
	}
	if r := n.sh(t, "ip", "route", "show", "proto", "94"); strings.TrimSpace(r) != "" {
		t.Errorf("agent routes left: %q", r)
	}
	if tables := n.sh(t, "nft", "list", "tables"); strings.Contains(tables, "switchyard") || !strings.Contains(tables, "table ip other") {
		t.Errorf("nftables tables: want no switchyard ones and the others kept:\n%s", tables)
	}
	n.ping(t, true)
	for _, f := range []string{"etc/cni/net.d/10-switchyard.conflist", "opt/cni/bin/switchyard", "var/lib/switchyard/ipam",
		"var/run/switchyard", "var/log/switchyard/agent.log"} {
		if _, err := os.Stat(filepath.Join(n.root, f)); err == nil {
			t.Errorf("%s left", f)
		}
	}
	for _, f := range []string{"etc/cni/net.d/99-other.conflist", "opt/cni/bin/loopback"} {
		if _, err := os.Stat(filepath.Join(n.root, f)); err != nil {
			t.Errorf("%s (not Switchyard's) was removed", f)
		}
	}
	_, err := os.Stat(filepath.Join(n.root, "var/lib/switchyard/openvswitch/conf.db"))
	if ovsRunning != (err == nil) {
		t.Errorf("OVS database present: %v, want %v (OVS running: %v)", err == nil, ovsRunning, ovsRunning)
	}
	pid := filepath.Join(n.root, "var/run/openvswitch/ovs-vswitchd.pid")
	_, perr := os.Stat(pid)
	if ovsRunning && perr != nil {
		t.Errorf("the running OVS was stopped")
	}
	if !ovsRunning {
		if out, err := exec.Command("ovs-appctl", "-t", filepath.Join(n.root, "var/run/openvswitch/ovs-vswitchd.ctl"), "version").CombinedOutput(); err == nil {
			t.Errorf("the temporary OVS is still running: %s", out)
		}
		if strings.Contains(links, "ovs-netdev") {
			t.Errorf("the temporary OVS left its datapath device:\n%s", links)
		}
	}
}

// Uninstalling while OVS runs (before the DaemonSet is deleted): everything goes, the node keeps its address
// (moved back from br-phy to nic0), OVS keeps running with no bridges, and a second run changes nothing.
func TestUninstallWithOVSRunning(t *testing.T) {
	n := newNode(t)
	out := n.uninstall(t)
	t.Log(out)
	n.assertClean(t, true)
	if br := n.sh(t, "ovs-vsctl", "--db=unix:"+n.root+"/var/run/openvswitch/db.sock", "list-br"); strings.TrimSpace(br) != "" {
		t.Errorf("bridges left in OVS: %q", br)
	}
	out = n.uninstall(t)
	n.assertClean(t, true)
	if strings.Contains(out, "deleting bridge") || strings.Contains(out, "removing "+n.root+"/etc") {
		t.Errorf("the second run found something to do:\n%s", out)
	}
}

// Uninstalling after the DaemonSet is gone (OVS stopped, br-phy's tap left down with the node's address): the
// script starts OVS from its database, restores the node's address, removes everything and stops OVS again,
// datapath included.
func TestUninstallAfterOVSStopped(t *testing.T) {
	n := newNode(t)
	for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
		n.sh(t, "ovs-appctl", "-t", n.root+"/var/run/openvswitch/"+d+".ctl", "exit")
	}
	n.ping(t, false) // the node's address sits on a bridge nobody forwards for
	out := n.uninstall(t)
	t.Log(out)
	if !strings.Contains(out, "starting Open vSwitch") {
		t.Errorf("OVS was not started from its database:\n%s", out)
	}
	n.assertClean(t, false)
	out = n.uninstall(t) // nothing left, no database: the by-name path, which finds nothing
	n.assertClean(t, false)
	if strings.Contains(out, "deleted ") {
		t.Errorf("the second run found something to do:\n%s", out)
	}
}

// scriptsDir is build/images/scripts.
func scriptsDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("scripts")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
