package reliability

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// udpSink listens on a UDP port in a namespace and records the source address of every datagram.
type udpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	from map[string]int
}

func newSink(t *testing.T, netns string, port int) *udpSink {
	t.Helper()
	s := &udpSink{from: map[string]int{}}
	err := ns.WithNetNSPath("/run/netns/"+netns, func(ns.NetNS) error {
		var err error
		s.conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			_, addr, err := s.conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.from[addr.IP.String()]++
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *udpSink) count(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.from[ip]
}

// sendUDP sends k datagrams from a namespace to dst:port with source address src (bound; it must be on an
// interface of the namespace).
func sendUDP(t *testing.T, netns, src, dst string, port, k int) {
	t.Helper()
	err := ns.WithNetNSPath("/run/netns/"+netns, func(ns.NetNS) error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.ParseIP(dst), Port: port})
		if err != nil {
			return err
		}
		defer c.Close()
		for range k {
			_, _ = c.Write([]byte("spoof?"))
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sending from %s (%s): %v", netns, src, err)
	}
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}

// A pod on node1 sends to a pod on node2 with another pod's source IP, with a source MAC not its own, and announces
// other pods' IPs in gratuitous ARPs: nothing spoofed arrives, the node does not learn the false bindings, and the
// pod's own traffic keeps working. The receiver counts datagrams by source address.
func TestSpoofingCrossNode(t *testing.T) {
	f := framework.Get(t)
	nsName := f.Namespace(t, "rel-spoof", nil)
	pods := createPods(t, f, nsName, []string{"attacker", "victim", "receiver"}, []framework.PodSpec{
		{Node: 1, TCP: []int32{8080}}, {Node: 1, TCP: []int32{8080}}, {Node: 2, TCP: []int32{8080}}})
	attacker, victim, receiver := pods[0], pods[1], pods[2]
	aNS, rNS := f.Netns(t, attacker), f.Netns(t, receiver)
	const port = 9999
	sink := newSink(t, rNS, port)
	const k = 20
	ownIP := attacker.Status.PodIP

	// Control: the attacker's own traffic arrives.
	sendUDP(t, aNS, ownIP, receiver.Status.PodIP, port, k)
	time.Sleep(500 * time.Millisecond)
	if got := sink.count(ownIP); got < k/2 {
		t.Fatalf("control: %d of %d datagrams from the attacker's own IP arrived", got, k)
	}

	results := map[string]string{}
	// Another pod's IP (the victim's, on the same node) and an unallocated IP of the node's pod CIDR.
	unused := strings.Join(strings.Split(ownIP, ".")[:3], ".") + ".250"
	for _, spoofed := range []string{victim.Status.PodIP, unused} {
		run(t, "ip", "-n", aNS, "addr", "add", spoofed+"/32", "dev", "eth0")
		sendUDP(t, aNS, spoofed, receiver.Status.PodIP, port, k)
		run(t, "ip", "-n", aNS, "addr", "del", spoofed+"/32", "dev", "eth0")
		time.Sleep(500 * time.Millisecond)
		got := sink.count(spoofed)
		results["source IP "+spoofed] = fmt.Sprintf("%d/%d arrived", got, k)
		if got != 0 {
			t.Errorf("%d of %d datagrams with the spoofed source IP %s reached the pod on node2", got, k, spoofed)
		}
	}

	// Another MAC: the attacker's own IP from a MAC that is not its own.
	mac := strings.TrimSpace(run(t, "ip", "netns", "exec", aNS, "cat", "/sys/class/net/eth0/address"))
	before := sink.count(ownIP)
	run(t, "ip", "-n", aNS, "link", "set", "eth0", "address", "0a:58:0a:ff:ff:fe")
	sendUDP(t, aNS, ownIP, receiver.Status.PodIP, port, k)
	run(t, "ip", "-n", aNS, "link", "set", "eth0", "address", mac)
	time.Sleep(500 * time.Millisecond)
	gotMAC := sink.count(ownIP) - before
	results["source MAC"] = fmt.Sprintf("%d/%d arrived", gotMAC, k)
	if gotMAC != 0 {
		t.Errorf("%d of %d datagrams from a spoofed MAC reached the pod on node2", gotMAC, k)
	}

	// ARP: the attacker claims the victim's IP (same node) and the receiver's (other node) with its own MAC.
	hw, _ := net.ParseMAC(mac)
	for _, ip := range []string{victim.Status.PodIP, receiver.Status.PodIP} {
		if err := nettest.SendGratuitousARP("/run/netns/"+aNS, "eth0", net.ParseIP(ip), hw); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	for i := 1; i <= 2; i++ {
		neigh := run(t, "ip", "-n", f.NodeNetns(i), "neigh", "show")
		for _, ip := range []string{victim.Status.PodIP, receiver.Status.PodIP} {
			for _, l := range strings.Split(neigh, "\n") {
				if strings.HasPrefix(l, ip+" ") && strings.Contains(l, mac) {
					t.Errorf("node%d learned %s at the attacker's MAC: %s", i, ip, l)
				}
			}
		}
	}
	// The victim and the receiver are still reached at their own addresses, from both nodes.
	for _, c := range []struct{ from, host, want string }{
		{rNS, victim.Status.PodIP, "victim"}, {f.Netns(t, victim), receiver.Status.PodIP, "receiver"},
		{f.NodeNetns(1), victim.Status.PodIP, "victim"}, {f.NodeNetns(2), victim.Status.PodIP, "victim"},
	} {
		if reply, out := probeRetry(c.from, c.host, 8080, 3); out != framework.Connected || reply != c.want {
			t.Errorf("after the spoofed ARPs, %s -> %s: %s %q, want %s", c.from, c.host, out, reply, c.want)
		}
	}
	results["ARP for other pods' IPs"] = "not learned"
	// The attacker still works with its own identity.
	before = sink.count(ownIP)
	sendUDP(t, aNS, ownIP, receiver.Status.PodIP, port, k)
	time.Sleep(500 * time.Millisecond)
	if got := sink.count(ownIP) - before; got < k/2 {
		t.Errorf("after the spoofing, %d of %d datagrams from the attacker's own identity arrived", got, k)
	}
	figure(t, "spoofing from a pod on node1 to a pod on node2: another pod's source IP %s, an unallocated source IP %s, another source MAC %s; gratuitous ARP claiming other pods' IPs: %s; the pod's own traffic still arrives",
		results["source IP "+victim.Status.PodIP], results["source IP "+unused], results["source MAC"], results["ARP for other pods' IPs"])
}
