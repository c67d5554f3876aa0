package flows

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// privateOVS is a throwaway ovsdb-server and ovs-vswitchd with their own run directory, with
// vswitchd inside a fresh network namespace (like the reference lab's start_ovs).
type privateOVS struct {
	dir   string
	netns string
}

const ovsSchema = "/usr/share/openvswitch/vswitch.ovsschema"

func startPrivateOVS(t *testing.T) *privateOVS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace and run Open vSwitch")
	}
	for _, bin := range []string{"ip", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed", bin)
		}
	}
	if _, err := os.Stat(ovsSchema); err != nil {
		t.Skipf("OVSDB schema missing: %v", err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	o := &privateOVS{dir: t.TempDir(), netns: "syflows-" + hex.EncodeToString(suffix)}
	o.run(t, "ip", "netns", "add", o.netns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", o.netns).Run() })
	o.run(t, "ovsdb-tool", "create", o.path("conf.db"), ovsSchema)
	o.run(t, "ip", "netns", "exec", o.netns, "ovsdb-server", "-vconsole:off", o.path("conf.db"),
		"--remote=punix:"+o.path("db.sock"), "--pidfile="+o.path("ovsdb-server.pid"),
		"--unixctl="+o.path("ovsdb-server.ctl"), "--log-file="+o.path("ovsdb-server.log"), "--detach", "--no-chdir")
	t.Cleanup(func() { o.stop(t, "ovsdb-server") })
	o.vsctl(t, "--no-wait", "init")
	o.run(t, "ip", "netns", "exec", o.netns, "ovs-vswitchd", "-vconsole:off", "unix:"+o.path("db.sock"),
		"--pidfile="+o.path("ovs-vswitchd.pid"), "--unixctl="+o.path("ovs-vswitchd.ctl"),
		"--log-file="+o.path("ovs-vswitchd.log"), "--detach", "--no-chdir")
	t.Cleanup(func() { o.stop(t, "ovs-vswitchd") })
	return o
}

func (o *privateOVS) path(name string) string { return filepath.Join(o.dir, name) }

// run runs an OVS tool with this instance's directories and returns its output.
func (o *privateOVS) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+o.dir, "OVS_LOGDIR="+o.dir, "OVS_DBDIR="+o.dir, "OVS_SYSCONFDIR="+o.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (o *privateOVS) vsctl(t *testing.T, args ...string) string {
	t.Helper()
	return o.run(t, "ovs-vsctl", append([]string{"--db=unix:" + o.path("db.sock"), "--timeout=30"}, args...)...)
}

func (o *privateOVS) appctl(t *testing.T, args ...string) string {
	t.Helper()
	return o.run(t, "ovs-appctl", append([]string{"-t", o.path("ovs-vswitchd.ctl")}, args...)...)
}

func (o *privateOVS) ofctl(t *testing.T, command string, args ...string) string {
	t.Helper()
	return o.run(t, "ovs-ofctl", append([]string{"-O", "OpenFlow15", command, "unix:" + o.path("br-int.mgmt")}, args...)...)
}

// stop terminates a daemon this test started, by the pid in its pidfile, and waits for it.
func (o *privateOVS) stop(t *testing.T, daemon string) {
	raw, err := os.ReadFile(o.path(daemon + ".pid"))
	if err != nil {
		t.Errorf("stopping %s: %v", daemon, err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Errorf("stopping %s: bad pidfile: %v", daemon, err)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return
		}
	}
	t.Errorf("%s (pid %d) did not exit after SIGTERM", daemon, pid)
}

// dumpLine renders a flow the way "ovs-ofctl --no-stats dump-flows" prints it:
// " table=10, priority=200,ip,in_port=2 actions=goto_table:30", without table 0 and cookie 0.
func dumpLine(f openflow.Flow) string {
	line := fmt.Sprintf("priority=%d", f.Priority)
	if f.Table != 0 {
		line = fmt.Sprintf("table=%d, %s", f.Table, line)
	}
	if f.Match != "" {
		line += "," + f.Match
	}
	return line + " actions=" + f.Actions
}

// datapathPorts maps OpenFlow port numbers to datapath port numbers (from dpif/show lines
// like "    pod1 10/3: (tap)").
func datapathPorts(dpifShow string) map[string]string {
	ports := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+\S+ (\d+)/(\d+):`).FindAllStringSubmatch(dpifShow, -1) {
		ports[m[1]] = m[2]
	}
	return ports
}

// The flows of a node and two pods are accepted by a real bridge as one bundle, are stored as
// exactly the text the builders wrote, and forward (and drop) packets as designed.
func TestPipelineForwardsInOVS(t *testing.T) {
	o := startPrivateOVS(t)
	o.vsctl(t, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow15",
		"--", "add-port", "br-int", "gw0", "--", "set", "interface", "gw0", "type=internal", "ofport_request=2", `mac="0a:58:0a:f4:01:01"`,
		"--", "add-port", "br-int", "pod1", "--", "set", "interface", "pod1", "type=internal", "ofport_request=10",
		"--", "add-port", "br-int", "pod2", "--", "set", "interface", "pod2", "type=internal", "ofport_request=11")

	all := append(PipelineFlows(testNode), PodFlows(testNode, testPod1)...)
	all = append(all, PodFlows(testNode, testPod2)...)
	got, want := o.loadAndDump(t, nil, all)
	if !slices.Equal(got, want) {
		t.Errorf("bridge flows differ from the builders' text:\n got  %q\n want %q", got, want)
	}

	dp := datapathPorts(o.appctl(t, "dpif/show"))
	gw, p1, p2 := dp["2"], dp["10"], dp["11"]
	if gw == "" || p1 == "" || p2 == "" {
		t.Fatalf("datapath ports not found: %v", dp)
	}
	const (
		gwMAC   = "0a:58:0a:f4:01:01"
		pod1MAC = "0a:58:0a:f4:01:02"
		pod2MAC = "0a:58:0a:f4:01:03"
	)
	cases := []struct {
		name      string
		packet    string
		wantOut   string   // the last datapath action: a datapath port or "drop"
		wantFinal []string // fields of the final flow
	}{
		{"pod1 to pod2 on the same subnet", "in_port=10,ip,dl_src=" + pod1MAC + ",dl_dst=" + pod2MAC + ",nw_src=10.244.1.2,nw_dst=10.244.1.3,nw_ttl=64", p2, nil},
		{"pod1 with a spoofed source IP", "in_port=10,ip,dl_src=" + pod1MAC + ",dl_dst=" + pod2MAC + ",nw_src=10.244.1.9,nw_dst=10.244.1.3,nw_ttl=64", "drop", nil},
		{"pod1 with a spoofed source MAC", "in_port=10,ip,dl_src=0a:58:0a:f4:01:09,dl_dst=" + pod2MAC + ",nw_src=10.244.1.2,nw_dst=10.244.1.3,nw_ttl=64", "drop", nil},
		{"pod1 ARP request for the gateway IP", "in_port=10,arp,arp_op=1,dl_src=" + pod1MAC + ",dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.244.1.2,arp_sha=" + pod1MAC + ",arp_tpa=10.244.1.1",
			p1, []string{"dl_src=" + gwMAC, "dl_dst=" + pod1MAC, "arp_spa=10.244.1.1", "arp_tpa=10.244.1.2", "arp_op=2", "arp_sha=" + gwMAC, "arp_tha=" + pod1MAC}},
		{"host ARP request for pod2's IP", "in_port=2,arp,arp_op=1,dl_src=" + gwMAC + ",dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.244.1.1,arp_sha=" + gwMAC + ",arp_tpa=10.244.1.3",
			gw, []string{"dl_src=" + pod2MAC, "arp_spa=10.244.1.3", "arp_op=2", "arp_sha=" + pod2MAC}},
		{"pod1 ARP claiming pod2's IP", "in_port=10,arp,arp_op=1,dl_src=" + pod1MAC + ",dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.244.1.3,arp_sha=" + pod1MAC + ",arp_tpa=10.244.1.1", "drop", nil},
		{"pod1 ARP request for an unknown IP", "in_port=10,arp,arp_op=1,dl_src=" + pod1MAC + ",dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.244.1.2,arp_sha=" + pod1MAC + ",arp_tpa=10.244.1.77", "drop", nil},
		{"pod1 gratuitous ARP goes to the gateway only", "in_port=10,arp,arp_op=1,dl_src=" + pod1MAC + ",dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.244.1.2,arp_sha=" + pod1MAC + ",arp_tpa=10.244.1.2", gw, []string{"arp_op=1"}},
		{"pod1 to pod2 routed through the gateway MAC", "in_port=10,ip,dl_src=" + pod1MAC + ",dl_dst=" + gwMAC + ",nw_src=10.244.1.2,nw_dst=10.244.1.3,nw_ttl=64",
			p2, []string{"dl_src=" + gwMAC, "dl_dst=" + pod2MAC, "nw_ttl=63"}},
		{"pod1 to its own IP through the gateway (hairpin)", "in_port=10,ip,dl_src=" + pod1MAC + ",dl_dst=" + gwMAC + ",nw_src=10.244.1.2,nw_dst=10.244.1.2,nw_ttl=64", p1, nil},
		{"pod1 to an outside address goes to the host", "in_port=10,ip,dl_src=" + pod1MAC + ",dl_dst=" + gwMAC + ",nw_src=10.244.1.2,nw_dst=192.0.2.1,nw_ttl=64", gw, []string{"nw_ttl=64"}},
		{"host to pod1", "in_port=2,ip,dl_src=" + gwMAC + ",dl_dst=" + pod1MAC + ",nw_src=192.0.2.1,nw_dst=10.244.1.2,nw_ttl=63", p1, nil},
		{"pod1 to an unknown MAC", "in_port=10,ip,dl_src=" + pod1MAC + ",dl_dst=0a:58:0a:f4:01:77,nw_src=10.244.1.2,nw_dst=10.244.1.77,nw_ttl=64", "drop", nil},
		{"a packet from an unknown port", "in_port=LOCAL,ip,dl_src=" + gwMAC + ",dl_dst=" + pod1MAC + ",nw_src=10.244.1.1,nw_dst=10.244.1.2,nw_ttl=64", "drop", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trace := o.appctl(t, "ofproto/trace", "br-int", c.packet)
			actions := regexp.MustCompile(`(?m)^Datapath actions: (.*)$`).FindAllStringSubmatch(trace, -1)
			finals := regexp.MustCompile(`(?m)^Final flow: (.*)$`).FindAllStringSubmatch(trace, -1)
			if len(actions) == 0 || len(finals) == 0 {
				t.Fatalf("no datapath actions in trace:\n%s", trace)
			}
			last := actions[len(actions)-1][1]
			if out := last[strings.LastIndex(last, ",")+1:]; out != c.wantOut {
				t.Errorf("datapath actions %q end in %q, want %q\n%s", last, out, c.wantOut, trace)
			}
			final := strings.Split(finals[len(finals)-1][1], ",")
			for _, field := range c.wantFinal {
				if !slices.Contains(final, field) {
					t.Errorf("final flow lacks %s:\n%s", field, trace)
				}
			}
		})
	}
}

// loadAndDump installs groups and flows in one bundle and returns the bridge's flows as dump-flows prints them
// and the builders' flows in the same form, both sorted.
func (o *privateOVS) loadAndDump(t *testing.T, groups []openflow.Group, flows []openflow.Flow) (got, want []string) {
	t.Helper()
	var bundle []string
	for _, g := range groups {
		bundle = append(bundle, "group add "+groupLine(g))
	}
	for _, f := range flows {
		bundle = append(bundle, "flow add "+flowLine(f))
		want = append(want, dumpLine(f))
	}
	bundleFile := o.path("bundle.txt")
	if err := os.WriteFile(bundleFile, []byte(strings.Join(bundle, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.ofctl(t, "bundle", bundleFile)
	for _, line := range strings.Split(o.ofctl(t, "dump-flows", "--no-stats"), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "OFPST_FLOW") {
			got = append(got, line)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	return got, want
}
