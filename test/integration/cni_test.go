package integration

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// Two pods on one node ping each other both ways, move data over TCP, and reach the gateway; the node's host
// stack reaches the pods through the gateway.
func TestTwoPodsTalk(t *testing.T) {
	n := newNode(t, "10.244.11.0/24")
	a, b := n.addPod("a"), n.addPod("b")
	if a.ip == b.ip {
		t.Fatalf("both pods got %s", a.ip)
	}
	for _, c := range []struct{ from, to string }{{a.ns, b.ip}, {b.ns, a.ip}, {a.ns, n.gatewayIP()}, {n.ns, a.ip}, {n.ns, b.ip}} {
		if err := ping(c.from, c.to, 3); err != nil {
			t.Error(err)
		}
	}
	// The agent's API is root only: the socket 0600 in a 0700 directory.
	if st, err := os.Stat(n.apiSocket()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("API socket mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	for _, dir := range [][2]*pod{{a, b}, {b, a}} {
		if err := tcpTransfer(dir[0], dir[1], 8<<20); err != nil {
			t.Errorf("TCP %s -> %s: %v", dir[0].name, dir[1].name, err)
		}
	}
}

// tcpTransfer sends size random bytes from client to server over TCP and checks they arrive intact.
func tcpTransfer(client, server *pod, size int) error {
	return nettest.TransferTCP(client.netnsPath(), server.netnsPath(), server.ip, size)
}

// A pod that changes its IP or MAC, or claims another pod's IP in ARP, is dropped by the spoof guard.
func TestSpoofedTrafficIsDropped(t *testing.T) {
	n := newNode(t, "10.244.12.0/24")
	a, b := n.addPod("a"), n.addPod("b")
	if err := ping(a.ns, b.ip, 2); err != nil {
		t.Fatal(err)
	}

	t.Run("other source IP", func(t *testing.T) {
		spoofed := strings.Join(strings.Split(a.ip, ".")[:3], ".") + ".250"
		nettest.Run(t, "ip", "-n", a.ns, "addr", "add", spoofed+"/32", "dev", "eth0")
		defer nettest.Run(t, "ip", "-n", a.ns, "addr", "del", spoofed+"/32", "dev", "eth0")
		if err := ping(a.ns, b.ip, 2, "-I", spoofed); err == nil {
			t.Error("ping with a spoofed source IP got through")
		}
		if err := ping(a.ns, b.ip, 2); err != nil {
			t.Errorf("pod's own IP stopped working: %v", err)
		}
	})

	t.Run("other MAC", func(t *testing.T) {
		nettest.Run(t, "ip", "-n", a.ns, "link", "set", "eth0", "address", "0a:58:0a:f4:ff:ff")
		nettest.Run(t, "ip", "-n", a.ns, "neigh", "flush", "all")
		if err := ping(a.ns, b.ip, 2); err == nil {
			t.Error("ping from a changed MAC got through")
		}
		nettest.Run(t, "ip", "-n", a.ns, "link", "set", "eth0", "address", a.mac)
		nettest.Run(t, "ip", "-n", a.ns, "neigh", "flush", "all")
		if err := ping(a.ns, b.ip, 2); err != nil {
			t.Errorf("pod's own MAC stopped working: %v", err)
		}
	})

	t.Run("ARP for another pod's IP", func(t *testing.T) {
		// a announces b's IP with its own MAC; if that got through, the node would send b's traffic to a.
		if err := sendARP(a, b.ip); err != nil {
			t.Fatal(err)
		}
		out := nettest.Run(t, "ip", "-n", n.ns, "neigh", "show", b.ip)
		if strings.Contains(out, a.mac) {
			t.Errorf("the node learned b's IP at a's MAC: %s", out)
		}
		if err := ping(n.ns, b.ip, 2); err != nil {
			t.Errorf("node -> b after the spoofed ARP: %v", err)
		}
	})
}

// After DEL nothing of the pod remains: no veth, no OVS port, no IP allocation, no flow.
func TestDelLeavesNothing(t *testing.T) {
	n := newNode(t, "10.244.13.0/24")
	keep := n.addPod("keep")
	before := n.flows()
	p := n.addPod("gone")
	if len(n.flows()) <= len(before) {
		t.Fatal("ADD installed no flows")
	}
	hostVeth := ""
	for _, i := range p.result.Interfaces {
		if i.Sandbox == "" {
			hostVeth = i.Name
		}
	}
	if err := ping(p.ns, keep.ip, 1); err != nil { // leaves conntrack entries of p in the datapath
		t.Fatal(err)
	}
	if len(n.conntrackOf(p.ip)) == 0 {
		t.Fatalf("no conntrack entry of %s after a ping (is the test looking at the right datapath?)", p.ip)
	}
	n.delPod(p)
	n.delPod(p) // DEL is idempotent

	for _, l := range n.links() {
		if l == hostVeth {
			t.Errorf("host veth %s left in the node", l)
		}
	}
	for _, port := range n.ports() {
		if port == hostVeth {
			t.Errorf("OVS port %s left on br-int", port)
		}
	}
	for _, f := range n.ipamFiles() {
		if f == p.ip {
			t.Errorf("IP %s still allocated", p.ip)
		}
	}
	if left := n.conntrackOf(p.ip); len(left) > 0 {
		t.Errorf("conntrack entries of the deleted pod remain: %q", left)
	}
	after := n.flows()
	if len(after) != len(before) {
		t.Errorf("flows: %d before the pod, %d after its DEL", len(before), len(after))
	}
	for _, f := range after {
		if strings.Contains(f, p.ip+",") || strings.Contains(f, p.ip+" ") || strings.Contains(f, p.mac) {
			t.Errorf("flow of the deleted pod remains: %s", f)
		}
	}
	if err := ping(keep.ns, n.gatewayIP(), 1); err != nil {
		t.Errorf("the other pod broke: %v", err)
	}
}

// 20 concurrent ADDs get 20 distinct IPs and all work.
func TestConcurrentAdds(t *testing.T) {
	n := newNode(t, "10.244.14.0/24")
	const count = 20
	pods := make([]*pod, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pods[i], errs[i] = n.tryAddPod(fmt.Sprintf("p%d", i))
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for i, p := range pods {
		if errs[i] != nil {
			t.Fatalf("ADD %d: %v", i, errs[i])
		}
		if other, dup := seen[p.ip]; dup {
			t.Errorf("%s and %s both got %s", other, p.name, p.ip)
		}
		seen[p.ip] = p.name
	}
	var pw sync.WaitGroup
	for i, p := range pods {
		pw.Add(1)
		go func() {
			defer pw.Done()
			if err := ping(p.ns, pods[(i+1)%count].ip, 2); err != nil {
				t.Error(err)
			}
		}()
	}
	pw.Wait()
	if got := len(n.ipamFiles()); got != count {
		t.Errorf("%d IPAM allocations on disk, want %d", got, count)
	}
}

// sendARP makes pod p announce ip (not its own) with its own MAC.
func sendARP(p *pod, ip string) error {
	mac, err := net.ParseMAC(p.mac)
	if err != nil {
		return err
	}
	return nettest.SendGratuitousARP(p.netnsPath(), "eth0", net.ParseIP(ip), mac)
}
