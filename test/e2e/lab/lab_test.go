// Package lab tests the lab itself: a 3-node cluster comes up, pods land on every node with addresses from their
// node's pod CIDR and reach each other on the same node, deleting pods releases everything, and `down` leaves nothing.
package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

func TestMain(m *testing.M) { framework.Main(m, framework.DefaultLab()) }

// Every node is Ready with its own pod CIDR; pods scheduled on every node get an address from their node's CIDR
// and reach a neighbour on the same node over TCP and UDP.
func TestPodsOnEveryNode(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	nodes, err := f.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != f.Lab.Options.Nodes {
		t.Fatalf("%d nodes, want %d", len(nodes.Items), f.Lab.Options.Nodes)
	}
	cidrs := map[string]*net.IPNet{}
	for _, n := range nodes.Items {
		_, c, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			t.Fatalf("node %s podCIDR %q: %v", n.Name, n.Spec.PodCIDR, err)
		}
		cidrs[n.Name] = c
	}
	ns := f.Namespace(t, "lab", nil)
	var cases []framework.Case
	for i := 1; i <= f.Lab.Options.Nodes; i++ {
		a := f.CreatePod(t, ns, fmt.Sprintf("a%d", i), framework.PodSpec{Node: i, TCP: []int32{80}, UDP: []int32{81}})
		b := f.CreatePod(t, ns, fmt.Sprintf("b%d", i), framework.PodSpec{Node: i, TCP: []int32{80}, UDP: []int32{81}})
		for _, p := range []string{a.Status.PodIP, b.Status.PodIP} {
			if !cidrs[a.Spec.NodeName].Contains(net.ParseIP(p)) {
				t.Errorf("pod IP %s outside node %s's pod CIDR %s", p, a.Spec.NodeName, cidrs[a.Spec.NodeName])
			}
		}
		for _, c := range [][2]string{{f.Netns(t, a), b.Status.PodIP}, {f.Netns(t, b), a.Status.PodIP}} {
			want := b.Name
			if c[1] == a.Status.PodIP {
				want = a.Name
			}
			for _, proto := range []string{"tcp", "udp"} {
				port := 80
				if proto == "udp" {
					port = 81
				}
				cases = append(cases, framework.Case{Name: fmt.Sprintf("node%d %s->%s %s", i, c[0], want, proto),
					Netns: c[0], Host: c[1], Port: port, Proto: proto, Want: framework.Connected, Reply: want})
			}
		}
		cases = append(cases, framework.Case{Name: fmt.Sprintf("node%d closed port", i), Netns: f.Netns(t, a),
			Host: b.Status.PodIP, Port: 82, Proto: "tcp", Want: framework.Refused})
	}
	f.Matrix(t, cases)
}

// Deleting pods releases their address, OVS port, veth and namespace on the node.
func TestDeletingPodsReleasesEverything(t *testing.T) {
	f := framework.Get(t)
	ns := f.Namespace(t, "del", nil)
	before := nodeFacts(t, f, 1)
	for i := range 3 {
		f.CreatePod(t, ns, fmt.Sprintf("p%d", i), framework.PodSpec{Node: 1, TCP: []int32{80}})
	}
	during := nodeFacts(t, f, 1)
	if during.ips-before.ips != 3 || during.ports-before.ports != 3 || during.netns-before.netns != 3 {
		t.Fatalf("3 pods added %+v to %+v", before, during)
	}
	for i := range 3 {
		f.DeletePod(t, ns, fmt.Sprintf("p%d", i))
	}
	deadline := time.Now().Add(30 * time.Second)
	var after facts
	for time.Now().Before(deadline) {
		if after = nodeFacts(t, f, 1); after == before {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("after deleting the pods node1 has %+v, before it had %+v", after, before)
}

type facts struct{ ips, ports, veths, netns int }

// nodeFacts counts node i's IPAM allocations, br-int ports, veths in the node namespace and pod namespaces.
func nodeFacts(t *testing.T, f *framework.Framework, i int) facts {
	t.Helper()
	var fa facts
	ipam, _ := filepath.Glob(filepath.Join(f.Lab.NodeDir(i), "agent", "ipam", "*", "*.*.*.*"))
	fa.ips = len(ipam)
	out, err := exec.Command("ovs-vsctl", "--db=unix:"+filepath.Join(f.Lab.NodeDir(i), "ovs", "db.sock"), "list-ports", "br-int").Output()
	if err != nil {
		t.Fatal(err)
	}
	fa.ports = len(strings.Fields(string(out)))
	out, _ = exec.Command("ip", "-n", f.NodeNetns(i), "-o", "link", "show", "type", "veth").Output()
	fa.veths = strings.Count(string(out), "\n")
	out, _ = exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, f.Lab.Plan.PodNetnsPrefix(i)) {
			fa.netns++
		}
	}
	return fa
}

// `switchyard-lab up` and `down` as a user runs them: a one-node lab, then nothing left behind — no namespace, no
// process, no link, no mount, no state directory.
func TestUpDownLeavesNothing(t *testing.T) {
	f := framework.Get(t)
	lab := filepath.Join(f.Lab.Options.BinDir, "switchyard-lab")
	state := filepath.Join(t.TempDir(), "lab")
	name := "d" + fmt.Sprint(time.Now().UnixNano()%10000)
	linksBefore, _ := exec.Command("ip", "-o", "link").Output()
	up := exec.Command(lab, "--state", state, "up", "--name", name, "--nodes", "1",
		"--controlplane-bin", f.Lab.Options.CPBinDir)
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if out, err := exec.Command(lab, "--state", state, "kubectl", "get", "nodes").CombinedOutput(); err != nil || !strings.Contains(string(out), "Ready") {
		t.Errorf("kubectl get nodes: %v\n%s", err, out)
	}
	if out, err := exec.Command(lab, "--state", state, "down").CombinedOutput(); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), "sy"+name+"-") {
		t.Errorf("namespaces left:\n%s", out)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), "sy"+name+"-") {
		t.Error("netns mounts left")
	}
	if procs := processesMentioning(state); len(procs) > 0 {
		t.Errorf("processes left: %v", procs)
	}
	linksAfter, _ := exec.Command("ip", "-o", "link").Output()
	if strings.Count(string(linksBefore), "\n") != strings.Count(string(linksAfter), "\n") {
		t.Errorf("host links changed:\nbefore:\n%s\nafter:\n%s", linksBefore, linksAfter)
	}
}

// processesMentioning lists live (non-zombie) processes whose command line contains s.
func processesMentioning(s string) []string {
	var found []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || len(cmd) == 0 { // zombies have an empty cmdline
			continue
		}
		if strings.Contains(string(cmd), s) {
			found = append(found, d.Name()+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return found
}
