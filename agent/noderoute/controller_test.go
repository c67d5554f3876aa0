package noderoute

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/switchyard-net/switchyard/agent/snat"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// fakeStore records the desired flows per owner, like flows.Store, and counts the calls that changed them.
type fakeStore struct {
	mu         sync.Mutex
	reconciled bool
	owners     map[flows.Owner][]openflow.Flow
	changes    int
}

func (s *fakeStore) Stage(o flows.Owner, f []openflow.Flow, _ []openflow.Group) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reconciled {
		return fmt.Errorf("stage after reconcile")
	}
	s.owners[o] = f
	return nil
}

func (s *fakeStore) Set(_ context.Context, o flows.Owner, f []openflow.Flow, _ []openflow.Group) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reconciled {
		return flows.ErrNotReconciled
	}
	if !reflect.DeepEqual(s.owners[o], f) {
		s.changes++
	}
	s.owners[o] = f
	return nil
}

func (s *fakeStore) Delete(_ context.Context, o flows.Owner) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.owners[o]; ok {
		s.changes++
	}
	delete(s.owners, o)
	return nil
}

func (s *fakeStore) flowsOf(node string) []openflow.Flow {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[Owner(node)]
}

func (s *fakeStore) ownerKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for o := range s.owners {
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	return keys
}

// fakeRoutes is the host's route table of pod CIDRs: dst -> "encap via <gw>" or "direct via <ip>".
type fakeRoutes struct {
	mu     sync.Mutex
	routes map[string]string
	pruned [][]string
}

func (r *fakeRoutes) Ensure(p *Peer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range p.PodCIDRs {
		if p.Encap {
			r.routes[c.String()] = "encap via " + flows.PeerGatewayIP(c).String()
		} else {
			r.routes[c.String()] = "direct via " + p.NodeIP.String()
		}
	}
	return nil
}

func (r *fakeRoutes) Remove(p, keep *Peer) error {
	if p == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := map[string]bool{}
	if keep != nil {
		for _, c := range keep.PodCIDRs {
			kept[c.String()] = true
		}
	}
	for _, c := range p.PodCIDRs {
		if !kept[c.String()] {
			delete(r.routes, c.String())
		}
	}
	return nil
}

func (r *fakeRoutes) Prune(desired []*Peer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[string]bool{}
	var names []string
	for _, p := range desired {
		names = append(names, p.Name)
		for _, c := range p.PodCIDRs {
			want[c.String()] = true
		}
	}
	for dst := range r.routes {
		if !want[dst] {
			delete(r.routes, dst)
		}
	}
	r.pruned = append(r.pruned, names)
	return nil
}

func (r *fakeRoutes) table() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for k, v := range r.routes {
		out[k] = v
	}
	return out
}

type fakeNeighbors struct {
	mu   sync.Mutex
	seen map[string]string
}

func (n *fakeNeighbors) Set(_ context.Context, ip net.IP, mac net.HardwareAddr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen[ip.String()] = mac.String()
	return nil
}

type fakeSNAT struct {
	mu   sync.Mutex
	last snat.Rules
}

func (s *fakeSNAT) Apply(_ context.Context, r snat.Rules) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = r
	return nil
}

func (s *fakeSNAT) script(t *testing.T) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := snat.Render("switchyard", s.last)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func node(name, ip string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if len(cidrs) > 0 {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidrs[0], cidrs
	}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

// testNode is node1: 10.244.1.0/24, transport 192.168.77.11/24.
var testNode = flows.NodeConfig{GatewayOFPort: 2, GatewayMAC: net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x01},
	GatewayIP: net.ParseIP("10.244.1.1").To4(), PodCIDR: mustCIDR("10.244.1.0/24"), CTZone: flows.DefaultCTZone}

type harness struct {
	cs     *fake.Clientset
	c      *Controller
	store  *fakeStore
	routes *fakeRoutes
	neigh  *fakeNeighbors
	snat   *fakeSNAT
}

func newHarness(t *testing.T, mode string, resync time.Duration, objs ...*corev1.Node) *harness {
	t.Helper()
	h := &harness{store: &fakeStore{owners: map[flows.Owner][]openflow.Flow{}}, routes: &fakeRoutes{routes: map[string]string{}},
		neigh: &fakeNeighbors{seen: map[string]string{}}, snat: &fakeSNAT{}}
	h.cs = fake.NewClientset()
	for _, o := range objs {
		if _, err := h.cs.CoreV1().Nodes().Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	var err error
	h.c, err = New(Config{NodeName: "node1", Mode: mode, Node: testNode, TunnelOFPort: 1,
		Transport: &net.IPNet{IP: net.ParseIP("192.168.77.11").To4(), Mask: net.CIDRMask(24, 32)}, GatewayName: "switchyard-gw0",
		Resync: resync}, h.cs, Deps{Flows: h.store, Routes: h.routes, Neighbors: h.neigh, SNAT: h.snat}, log)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// start runs the controller as the agent does: Start, Stage, Reconcile (here: the fake store's switch), Run.
func (h *harness) start(t *testing.T) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := h.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Stage(); err != nil {
		t.Fatal(err)
	}
	h.store.mu.Lock()
	h.store.reconciled = true
	h.store.mu.Unlock()
	if err := h.c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return cancel
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func flowText(fs []openflow.Flow) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, fmt.Sprintf("table=%d,priority=%d,%s,actions=%s", f.Table, f.Priority, f.Match, f.Actions))
	}
	return strings.Join(lines, "\n")
}

func TestDecide(t *testing.T) {
	subnet := mustCIDR("192.168.77.0/24")
	cases := []struct {
		mode string
		peer string
		want bool
	}{
		{ModeEncap, "192.168.77.12", true},
		{ModeEncap, "192.168.88.12", true},
		{ModeNoEncap, "192.168.77.12", false},
		{ModeNoEncap, "192.168.88.12", false},
		{ModeHybrid, "192.168.77.12", false},
		{ModeHybrid, "192.168.88.12", true},
	}
	for _, c := range cases {
		if got := Decide(c.mode, subnet, net.ParseIP(c.peer)); got != c.want {
			t.Errorf("Decide(%s, %s, %s) = %v, want %v", c.mode, subnet, c.peer, got, c.want)
		}
	}
	if !Decide(ModeHybrid, nil, net.ParseIP("192.168.77.12")) {
		t.Errorf("hybrid without a transport subnet must encapsulate")
	}
}

func TestNodeFacts(t *testing.T) {
	n := node("n", "", "10.244.5.0/24", "fd00:5::/64")
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "203.0.113.5"},
		{Type: corev1.NodeInternalIP, Address: "fd00::5"}, {Type: corev1.NodeInternalIP, Address: "192.168.77.15"}}
	if ip := NodeIP(n, false); ip.String() != "192.168.77.15" {
		t.Errorf("IPv4 NodeIP = %v", ip)
	}
	if ip := NodeIP(n, true); ip.String() != "fd00::5" {
		t.Errorf("IPv6 NodeIP = %v", ip)
	}
	cidrs, err := PodCIDRs(n)
	if err != nil || len(cidrs) != 1 || cidrs[0].String() != "10.244.5.0/24" {
		t.Errorf("PodCIDRs = %v, %v (want the IPv4 one only)", cidrs, err)
	}
	old := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.6.0/24"}}
	if cidrs, _ := PodCIDRs(old); len(cidrs) != 1 || cidrs[0].String() != "10.244.6.0/24" {
		t.Errorf("spec.podCIDR only: %v", cidrs)
	}
	bad := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.7.0"}}}
	if _, err := PodCIDRs(bad); err == nil || !strings.Contains(err.Error(), `node bad: pod CIDR "10.244.7.0"`) {
		t.Errorf("bad pod CIDR: %v", err)
	}
}

// In hybrid mode the peer on the transport subnet is direct and the one behind the router is encapsulated; the
// flows are staged before Reconcile and the host side follows after it; nodes without pod CIDR or address and
// this node itself get nothing.
func TestHybridStagesThenProgramsPeers(t *testing.T) {
	h := newHarness(t, ModeHybrid, 0,
		node("node1", "192.168.77.11", "10.244.1.0/24"),
		node("node2", "192.168.77.12", "10.244.2.0/24"),
		node("node3", "192.168.88.13", "10.244.3.0/24"),
		node("node4", "192.168.77.14"),
		node("node5", "", "10.244.5.0/24"),
		node("node6", "192.168.77.16", "10.244.1.0/25"), // overlaps node1: refused
	)
	ctx := context.Background()
	if err := h.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Stage(); err != nil {
		t.Fatal(err)
	}
	if got := h.store.ownerKeys(); !reflect.DeepEqual(got, []string{"node2", "node3"}) {
		t.Fatalf("staged owners %v, want node2 node3", got)
	}
	if len(h.routes.table()) != 0 {
		t.Fatalf("routes before Run: %v", h.routes.table())
	}
	direct := flowText(h.store.flowsOf("node2"))
	if want := "table=50,priority=200,ip,nw_dst=10.244.2.0/24,actions=set_field:0a:58:0a:f4:01:01->eth_dst,goto_table:60"; direct != want {
		t.Errorf("node2 (same subnet) flows:\n%s\nwant\n%s", direct, want)
	}
	encap := flowText(h.store.flowsOf("node3"))
	for _, want := range []string{"nw_dst=10.244.3.0/24", "set_field:192.168.88.13->tun_dst", "set_field:aa:bb:cc:dd:ee:ff->eth_dst",
		"arp_tpa=10.244.3.1"} {
		if !strings.Contains(encap, want) {
			t.Errorf("node3 (other subnet) flows lack %q:\n%s", want, encap)
		}
	}
	h.store.reconciled = true
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := h.c.Run(cctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"10.244.2.0/24": "direct via 192.168.77.12", "10.244.3.0/24": "encap via 10.244.3.1"}
	if got := h.routes.table(); !reflect.DeepEqual(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	if len(h.neigh.seen) != 0 {
		t.Errorf("hybrid seeded tunnel neighbours %v: the encapsulated peer is behind a router", h.neigh.seen)
	}
	script := h.snat.script(t)
	for _, want := range []string{"10.244.1.0/24, 10.244.2.0/24, 10.244.3.0/24, 10.244.5.0/24", "192.168.77.11, 192.168.77.12",
		"192.168.88.13", `ip saddr 10.244.1.0/24 ip daddr != @pod-cidrs ip daddr != @node-ips oifname != "switchyard-gw0" masquerade`} {
		if !strings.Contains(script, want) {
			t.Errorf("SNAT script lacks %q:\n%s", want, script)
		}
	}
	// The first sync of every node (the informer's adds) changes nothing: the staged flows were right.
	time.Sleep(200 * time.Millisecond)
	if h.store.changes != 0 {
		t.Errorf("%d flow changes after Run; a restart must not touch the staged flows", h.store.changes)
	}
}

// Adding, updating and deleting a Node updates the flows, routes and neighbour seeds; resyncs change nothing.
func TestNodeLifecycle(t *testing.T) {
	h := newHarness(t, ModeEncap, time.Second, node("node1", "192.168.77.11", "10.244.1.0/24"))
	h.start(t)
	ctx := context.Background()
	nodes := h.cs.CoreV1().Nodes()

	n2 := node("node2", "192.168.77.12", "10.244.2.0/24")
	if _, err := nodes.Create(ctx, n2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node2's route", func() bool { return h.routes.table()["10.244.2.0/24"] == "encap via 10.244.2.1" })
	if !strings.Contains(flowText(h.store.flowsOf("node2")), "set_field:192.168.77.12->tun_dst") {
		t.Errorf("node2 flows: %s", flowText(h.store.flowsOf("node2")))
	}
	eventually(t, "node2's tunnel neighbour seed", func() bool {
		h.neigh.mu.Lock()
		defer h.neigh.mu.Unlock()
		return h.neigh.seen["192.168.77.12"] == "0a:00:c0:a8:4d:0c"
	})

	// A node that gets its pod CIDR later.
	n3 := node("node3", "192.168.77.13")
	if _, err := nodes.Create(ctx, n3, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if len(h.store.flowsOf("node3")) != 0 {
		t.Errorf("node3 without pod CIDR has flows")
	}
	n3.Spec.PodCIDR, n3.Spec.PodCIDRs = "10.244.3.0/24", []string{"10.244.3.0/24"}
	if _, err := nodes.Update(ctx, n3, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node3's route", func() bool { return h.routes.table()["10.244.3.0/24"] != "" })

	// A changed address moves tun_dst; a changed pod CIDR moves the route.
	n2.Status.Addresses[1].Address = "192.168.77.22"
	n2.Spec.PodCIDR, n2.Spec.PodCIDRs = "10.244.12.0/24", []string{"10.244.12.0/24"}
	if _, err := nodes.Update(ctx, n2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node2's new route", func() bool {
		r := h.routes.table()
		return r["10.244.12.0/24"] != "" && r["10.244.2.0/24"] == ""
	})
	if f := flowText(h.store.flowsOf("node2")); !strings.Contains(f, "192.168.77.22->tun_dst") || strings.Contains(f, "10.244.2.0") {
		t.Errorf("node2 flows after the update:\n%s", f)
	}
	eventually(t, "SNAT exempts node2's new CIDR", func() bool { return strings.Contains(h.snat.script(t), "10.244.12.0/24") })

	// Resyncs (every second here, the informer's minimum) change nothing.
	h.store.mu.Lock()
	before := h.store.changes
	h.store.mu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	h.store.mu.Lock()
	after := h.store.changes
	h.store.mu.Unlock()
	if after != before {
		t.Errorf("resyncs changed flows %d times", after-before)
	}

	if err := nodes.Delete(ctx, "node2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node2's removal", func() bool {
		return h.routes.table()["10.244.12.0/24"] == "" && len(h.store.flowsOf("node2")) == 0
	})
	eventually(t, "SNAT forgets node2", func() bool { return !strings.Contains(h.snat.script(t), "10.244.12.0/24") })
	if got := h.c.Peers(); len(got) != 1 || got[0].Name != "node3" {
		t.Errorf("peers after deleting node2: %+v", got)
	}
}

// After a restart the controller removes the routes of nodes deleted while the agent was down.
func TestRunPrunesRoutesOfVanishedNodes(t *testing.T) {
	h := newHarness(t, ModeNoEncap, 0, node("node1", "192.168.77.11", "10.244.1.0/24"), node("node2", "192.168.77.12", "10.244.2.0/24"))
	h.routes.routes["10.244.9.0/24"] = "encap via 10.244.9.1" // left by the previous agent
	h.start(t)
	want := map[string]string{"10.244.2.0/24": "direct via 192.168.77.12"}
	if got := h.routes.table(); !reflect.DeepEqual(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	if len(h.neigh.seen) != 0 {
		t.Errorf("noEncap seeded tunnel neighbours: %v", h.neigh.seen)
	}
}

func TestNewRejectsUnknownMode(t *testing.T) {
	_, err := New(Config{Mode: "tunnel"}, fake.NewClientset(), Deps{Flows: &fakeStore{}, Routes: &fakeRoutes{}}, logrus.New())
	if err == nil || !strings.Contains(err.Error(), `"tunnel"`) {
		t.Errorf("unknown mode: %v", err)
	}
}
