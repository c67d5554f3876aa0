package reliability

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// A pod on node1 is reached over TCP and UDP from a client on node2 (entries on both nodes), then deleted: within a
// few seconds neither node holds a conntrack entry of its address. Node1 flushes them at CNI DEL; node2, the peer,
// when its agent sees the pod deleted (package podconntrack). Before, node2's entries stayed until OVS expired them
// (30 s for these; a day for an established connection) and could take over a new pod's connection on the address.
func TestPeerForgetsDeletedPodConnections(t *testing.T) {
	f := framework.Get(t)
	ns := f.Namespace(t, "rel-peerct", nil)
	pods := createPods(t, f, ns, []string{"server", "client"},
		[]framework.PodSpec{{Node: 1, TCP: []int32{8080}, UDP: []int32{8081}}, {Node: 2}})
	server, client := pods[0], f.Netns(t, pods[1])
	ip := server.Status.PodIP
	if reply, out := probeRetry(client, ip, 8080, 3); out != framework.Connected || reply != "server" {
		t.Fatalf("TCP from node2 to the server: %s %q", out, reply)
	}
	if reply, out := probe(client, ip, 8081, "udp", 2*time.Second); out != framework.Connected || reply != "server" {
		t.Fatalf("UDP from node2 to the server: %s %q", out, reply)
	}
	nodes := []node{nodeOf(f, 1), nodeOf(f, 2)}
	ips := map[string]bool{ip: true}
	if hits := conntrackOf(t, nodes[1], ips); len(hits) == 0 {
		t.Fatalf("node2 has no conntrack entry of the server (%s) to begin with", ip)
	}

	f.DeletePod(t, ns, "server")
	gone := time.Now()
	eventually(t, "no conntrack entry of the deleted pod on either node", 10*time.Second, func() (bool, string) {
		var left []string
		for _, n := range nodes {
			for _, h := range conntrackOf(t, n, ips) {
				left = append(left, n.name()+": "+h)
			}
		}
		return len(left) == 0, strings.Join(left, "\n")
	})
	figure(t, "a deleted pod's conntrack entries on the peer node gone %v after the pod (OVS's own timeouts: 30 s for these)",
		time.Since(gone).Round(100*time.Millisecond))
}
