package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// binDir holds switchyard-agent and switchyard-cni, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			fmt.Println("integration tests need root; skipping")
			return 0
		}
		d, err := os.MkdirTemp("", "sybin")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(d)
		out, err := exec.Command("go", "build", "-o", d+"/", "github.com/switchyard-net/switchyard/cmd/switchyard-agent",
			"github.com/switchyard-net/switchyard/cmd/switchyard-cni").CombinedOutput()
		if err != nil {
			fmt.Printf("building binaries: %v\n%s", err, out)
			return 1
		}
		if err := os.Rename(filepath.Join(d, "switchyard-cni"), filepath.Join(d, "switchyard")); err != nil {
			panic(err) // the CNI runtime finds a plugin by its "type", which is "switchyard"
		}
		binDir = d
		return m.Run()
	}()
	os.Exit(code)
}

// node is one Switchyard node: a network namespace with a private OVS and a switchyard-agent process.
type node struct {
	t       *testing.T
	ns      string
	dir     string // short temp dir: sockets, state, CNI conf
	ovs     *privateovs.OVS
	podCIDR string
	agent   *exec.Cmd
	logPath string
	exited  chan struct{}
	mode    string // the agent's --traffic-mode; empty: its default (encap)
}

// nodeOptions change what newNodeWith starts.
type nodeOptions struct {
	mode         string // the agent's --traffic-mode
	userspaceTSO bool   // ovs-vswitchd starts with other_config:userspace-tso-enable=true, as start-ovs.sh does in noEncap
}

func (n *node) apiSocket() string { return filepath.Join(n.dir, "agent.sock") }
func (n *node) confDir() string   { return filepath.Join(n.dir, "net.d") }
func (n *node) stateDir() string  { return filepath.Join(n.dir, "state") }
func (n *node) conflist() string  { return filepath.Join(n.confDir(), "10-switchyard.conflist") }
func (n *node) cacheDir() string  { return filepath.Join(n.dir, "cni-cache") }
func (n *node) gatewayIP() string {
	ip, _, _ := net.ParseCIDR(n.podCIDR)
	ip = ip.To4()
	ip[3]++
	return ip.String()
}
func (n *node) netnsPath() string { return "/run/netns/" + n.ns }

// newNode starts a node with a unique namespace and a private netdev OVS, and its agent.
func newNode(t *testing.T, podCIDR string) *node {
	t.Helper()
	return newNodeWith(t, podCIDR, nodeOptions{})
}

func newNodeWith(t *testing.T, podCIDR string, opts nodeOptions) *node {
	t.Helper()
	nettest.RequireOVS(t)
	n := &node{t: t, podCIDR: podCIDR, mode: opts.mode}
	n.ns = nettest.NewNetns(t, "node")
	for _, s := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
		nettest.Run(t, "ip", "netns", "exec", n.ns, "sysctl", "-qw", s)
	}
	d, err := os.MkdirTemp("", "synode")
	if err != nil {
		t.Fatal(err)
	}
	n.dir = d
	t.Cleanup(func() { os.RemoveAll(d) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n.ovs, err = privateovs.Start(ctx, privateovs.Options{Dir: filepath.Join(d, "ovs"), Netns: n.ns, FlowRestoreWait: true,
		UserspaceTSO: opts.userspaceTSO})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.ovs.Stop() })
	n.logPath = filepath.Join(d, "agent.log")
	n.startAgent()
	t.Cleanup(func() {
		n.stopAgent(syscall.SIGTERM)
		if t.Failed() {
			b, _ := os.ReadFile(n.logPath)
			t.Logf("agent log:\n%s", b)
		}
	})
	return n
}

// startAgent runs switchyard-agent inside the node's namespace, as the DaemonSet does on a node, and waits until
// it is ready (it writes the CNI conflist last).
func (n *node) startAgent() {
	t := n.t
	t.Helper()
	_ = os.Remove(n.conflist())
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"netns", "exec", n.ns, filepath.Join(binDir, "switchyard-agent"),
		"--node-name", n.ns, "--pod-cidr", n.podCIDR, "--datapath", "netdev",
		"--ovsdb", "unix:" + n.ovs.DBSocket, "--ovs-rundir", n.ovs.RunDir, "--vswitchd-ctl", n.ovs.VswitchdCtl(),
		"--cni-conf-dir", n.confDir(), "--api-socket", n.apiSocket(), "--state-dir", n.stateDir(), "--log-level", "debug"}
	if n.mode != "" {
		args = append(args, "--traffic-mode", n.mode)
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	n.agent = cmd
	n.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, n.exited)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(n.conflist()); err == nil {
			return
		}
		select {
		case <-n.exited:
			b, _ := os.ReadFile(n.logPath)
			t.Fatalf("agent exited before ready:\n%s", b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(n.logPath)
			t.Fatalf("agent not ready after 60s:\n%s", b)
		}
	}
}

// stopAgent signals the agent (SIGKILL for a crash) and waits for it to exit.
func (n *node) stopAgent(sig syscall.Signal) {
	if n.agent == nil {
		return
	}
	_ = n.agent.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.agent.Process.Kill()
		<-n.exited
	}
	n.agent = nil
}

// pod is a network namespace attached through the CNI plugin.
type pod struct {
	name, ns    string
	containerID string
	ip          string
	mac         string
	result      *types100.Result
}

func (p *pod) netnsPath() string { return "/run/netns/" + p.ns }

func (n *node) cni() (*libcni.CNIConfig, *libcni.NetworkConfigList) {
	n.t.Helper()
	list, err := libcni.ConfListFromFile(n.conflist())
	if err != nil {
		n.t.Fatal(err)
	}
	return libcni.NewCNIConfigWithCacheDir([]string{binDir}, n.cacheDir(), nil), list
}

func (n *node) runtimeConf(p *pod) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: p.containerID, NetNS: p.netnsPath(), IfName: "eth0",
		Args: [][2]string{{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", p.name}}}
}

// addPod creates a pod namespace and runs CNI ADD through libcni with the conflist the agent wrote, exactly as
// a container runtime does.
func (n *node) addPod(name string) *pod {
	n.t.Helper()
	p, err := n.tryAddPod(name)
	if err != nil {
		n.t.Fatalf("CNI ADD %s: %v", name, err)
	}
	return p
}

func (n *node) tryAddPod(name string) (*pod, error) {
	p := &pod{name: name, ns: nettest.NewNetns(n.t, "pod"), containerID: nettest.UniqueName("c" + name)}
	cfg, list := n.cni()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cfg.AddNetworkList(ctx, list, n.runtimeConf(p))
	if err != nil {
		return p, err
	}
	if p.result, err = types100.NewResultFromResult(res); err != nil {
		return p, err
	}
	if len(p.result.IPs) != 1 {
		return p, fmt.Errorf("result has %d IPs: %+v", len(p.result.IPs), p.result)
	}
	p.ip = p.result.IPs[0].Address.IP.String()
	for _, i := range p.result.Interfaces {
		if i.Sandbox != "" {
			p.mac = i.Mac
		}
	}
	return p, nil
}

func (n *node) delPod(p *pod) {
	n.t.Helper()
	cfg, list := n.cni()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cfg.DelNetworkList(ctx, list, n.runtimeConf(p)); err != nil {
		n.t.Fatalf("CNI DEL %s: %v", p.name, err)
	}
}

// ping sends count pings from a namespace; it reports whether all were answered.
func ping(ns, dst string, count int, extra ...string) error {
	args := append([]string{"-c", fmt.Sprint(count), "-W", "1", "-i", "0.2"}, extra...)
	out, err := nettest.InNetns(ns, "ping", append(args, dst)...)
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v\n%s", dst, ns, err, out)
	}
	return nil
}

// flows dumps br-int's flows, one per line, without statistics.
func (n *node) flows() []string {
	n.t.Helper()
	out, err := n.ovs.Ofctl(context.Background(), "dump-flows", "br-int", "--no-stats")
	if err != nil {
		n.t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "OFPST_FLOW") {
			lines = append(lines, l)
		}
	}
	return lines
}

// conntrackOf returns the datapath's conntrack entries that mention ip.
func (n *node) conntrackOf(ip string) []string {
	n.t.Helper()
	out, err := n.ovs.Appctl(context.Background(), "dpctl/dump-conntrack")
	if err != nil {
		n.t.Fatal(err)
	}
	var hits []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "="+ip+",") {
			hits = append(hits, l)
		}
	}
	return hits
}

// ports lists br-int's ports.
func (n *node) ports() []string {
	n.t.Helper()
	out, err := exec.Command("ovs-vsctl", "--db=unix:"+n.ovs.DBSocket, "list-ports", "br-int").CombinedOutput()
	if err != nil {
		n.t.Fatalf("list-ports: %v %s", err, out)
	}
	return strings.Fields(string(out))
}

// links lists the interface names in the node namespace.
func (n *node) links() []string {
	out := nettest.Run(n.t, "ip", "-n", n.ns, "-j", "link", "show")
	var ls []struct {
		IfName string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		n.t.Fatal(err)
	}
	var names []string
	for _, l := range ls {
		names = append(names, l.IfName)
	}
	return names
}

// ipamFiles lists the IPAM allocation files on disk.
func (n *node) ipamFiles() []string {
	var files []string
	_ = filepath.Walk(filepath.Join(n.stateDir(), "ipam"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && net.ParseIP(info.Name()) != nil {
			files = append(files, info.Name())
		}
		return nil
	})
	return files
}
