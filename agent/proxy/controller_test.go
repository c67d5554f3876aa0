package proxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

var testServiceConfig = flows.ServiceConfig{SNATZone: flows.DefaultSNATCTZone, Node: flows.NodeConfig{
	GatewayOFPort: 2, GatewayMAC: net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x01}, GatewayIP: net.ParseIP("10.244.1.1"),
	PodCIDR: &net.IPNet{IP: net.ParseIP("10.244.1.0").To4(), Mask: net.CIDRMask(24, 32)}, CTZone: flows.DefaultCTZone}}

// fakeStore records every call, like the flows Store's API.
type fakeStore struct {
	mu     sync.Mutex
	calls  []string
	owners map[flows.Owner][]openflow.Group
	flows  map[flows.Owner][]openflow.Flow
}

func newFakeStore() *fakeStore {
	return &fakeStore{owners: map[flows.Owner][]openflow.Group{}, flows: map[flows.Owner][]openflow.Flow{}}
}

func (s *fakeStore) record(op string, o flows.Owner, f []openflow.Flow, g []openflow.Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf("%s %s", op, o))
	if op == "delete" {
		delete(s.owners, o)
		delete(s.flows, o)
		return
	}
	s.owners[o], s.flows[o] = g, f
}

func (s *fakeStore) Stage(o flows.Owner, f []openflow.Flow, g []openflow.Group) error {
	s.record("stage", o, f, g)
	return nil
}

func (s *fakeStore) Set(_ context.Context, o flows.Owner, f []openflow.Flow, g []openflow.Group) error {
	s.record("set", o, f, g)
	return nil
}

func (s *fakeStore) Delete(_ context.Context, o flows.Owner) error {
	s.record("delete", o, nil, nil)
	return nil
}

func (s *fakeStore) takeCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *fakeStore) groups(o flows.Owner) []openflow.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[o]
}

// fakeHost keeps the last applied host state.
type fakeHost struct {
	mu    sync.Mutex
	last  HostState
	count int
}

func (h *fakeHost) Apply(_ context.Context, s HostState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last, h.count = s, h.count+1
	return nil
}

func (h *fakeHost) state() (HostState, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, h.count
}

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return l
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// settle waits until the controller has worked off its queue: nothing queued and no Store call for 100 ms.
func settle(t *testing.T, c *Controller, s *fakeStore) {
	t.Helper()
	seen, quietSince := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.calls)
		s.mu.Unlock()
		if n != seen || c.queue.Len() > 0 {
			seen, quietSince = n, time.Now()
			continue
		}
		if time.Since(quietSince) >= 100*time.Millisecond {
			return
		}
	}
	t.Fatal("timed out waiting for the controller to settle")
}

func TestControllerFollowsServicesAndEndpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	web := service("default", "web", "10.96.0.20", svcPort("http", corev1.ProtocolTCP, 80))
	webEPs := slice("default", "web", "web-1", "http", corev1.ProtocolTCP, 8080, readyEP("10.244.2.5", "node-2"))
	empty := service("default", "empty", "10.96.0.21", svcPort("http", corev1.ProtocolTCP, 80))
	cs := fake.NewClientset(web, webEPs, empty)
	store, host := newFakeStore(), &fakeHost{}
	c, err := New(Config{NodeName: testNodeName, Services: testServiceConfig}, cs, store, host, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "Run before StageAll") {
		t.Errorf("Run before StageAll: %v", err)
	}
	if err := c.StageAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.takeCalls(); strings.Join(got, ";") != "stage Service/default/web" {
		t.Errorf("StageAll calls = %v, want only the Service with endpoints staged", got)
	}
	webOwner := Owner("default/web")
	g := store.groups(webOwner)
	if len(g) != 1 || len(g[0].Buckets) != 1 {
		t.Fatalf("staged groups = %+v", g)
	}
	groupID := g[0].ID
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "host rules with the Service without endpoints", func() bool {
		s, _ := host.state()
		return len(s.Reject) == 1 && s.Reject[0] == HostEntry{IP: "10.96.0.21", Protocol: flows.TCP, Port: 80}
	})
	settle(t, c, store) // the initial objects' events may still be queued after the host rules are right
	store.takeCalls()

	// An endpoint is added: one Set of that Service, same group id, two buckets.
	webEPs.Endpoints = append(webEPs.Endpoints, slice("", "", "", "", "", 0, readyEP("10.244.1.7", testNodeName)).Endpoints...)
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, webEPs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two buckets", func() bool {
		g := store.groups(webOwner)
		return len(g) == 1 && len(g[0].Buckets) == 2
	})
	if got := store.takeCalls(); strings.Join(got, ";") != "set Service/default/web" {
		t.Errorf("endpoint change made calls %v, want one set of default/web", got)
	}
	if g := store.groups(webOwner); g[0].ID != groupID {
		t.Errorf("group id changed from %d to %d on an endpoint change", groupID, g[0].ID)
	}

	// The other Service gets an endpoint: it leaves the host's reject set and gets flows.
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx,
		slice("default", "empty", "empty-1", "http", corev1.ProtocolTCP, 8080, readyEP("10.244.2.9", "node-2")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "empty Service served", func() bool {
		s, _ := host.state()
		return len(store.groups(Owner("default/empty"))) == 1 && len(s.Reject) == 0
	})
	if id := store.groups(Owner("default/empty"))[0].ID; id == groupID {
		t.Errorf("two Services share group id %d", id)
	}

	// Another proxy takes the Service over: its flows go.
	web.Labels = map[string]string{LabelServiceProxyName: "other"}
	if _, err := cs.CoreV1().Services("default").Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "flows of a Service of another proxy deleted", func() bool { return store.groups(webOwner) == nil })

	// The Service is deleted: its flows and group go, and its group id is free again.
	if err := cs.CoreV1().Services("default").Delete(ctx, "empty", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted Service's flows deleted", func() bool { return store.groups(Owner("default/empty")) == nil })
	if _, err := cs.CoreV1().Services("default").Create(ctx,
		service("default", "again", "10.96.0.22", svcPort("http", corev1.ProtocolTCP, 80)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx,
		slice("default", "again", "again-1", "http", corev1.ProtocolTCP, 8080, readyEP("10.244.2.10", "node-2")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new Service served", func() bool { return len(store.groups(Owner("default/again"))) == 1 })
	if id := store.groups(Owner("default/again"))[0].ID; id == 0 {
		t.Errorf("new Service got group id %d", id)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	cs := fake.NewClientset()
	if _, err := New(Config{NodeName: "n", Services: testServiceConfig}, cs, nil, &fakeHost{}, quietLog()); err == nil {
		t.Error("New without a store succeeded")
	}
	bad := testServiceConfig
	bad.SNATZone = bad.Node.CTZone
	if _, err := New(Config{NodeName: "n", Services: bad}, cs, newFakeStore(), &fakeHost{}, quietLog()); err == nil ||
		!strings.Contains(err.Error(), "SNAT conntrack zone") {
		t.Errorf("New with the SNAT zone equal to the pod zone: %v", err)
	}
}

func TestGroupIDs(t *testing.T) {
	g := newGroupIDs()
	a := []lbKey{{Port: "http", Protocol: flows.TCP}, {Port: "dns", Protocol: flows.UDP}}
	ids, gone, err := g.assign("ns/a", a)
	if err != nil || len(gone) != 0 || ids[0] == 0 || ids[1] == 0 || ids[0] == ids[1] {
		t.Fatalf("assign = %v %v %v", ids, gone, err)
	}
	first := append([]uint32(nil), ids...)
	ids, gone, _ = g.assign("ns/a", a[:1])
	if ids[0] != first[0] || len(gone) != 1 || gone[0] != first[1] {
		t.Fatalf("shrink: ids %v gone %v, want [%d] gone [%d]", ids, gone, first[0], first[1])
	}
	g.release(gone...)
	if f := g.forget("ns/a"); len(f) != 1 || f[0] != first[0] {
		t.Errorf("forget = %v", f)
	}
	g.release(first[0])

	// A restarted agent (a new allocator) gives the same ids whatever order it sees the Services in.
	b := []lbKey{{Port: "web", Protocol: flows.TCP}}
	g1, g2 := newGroupIDs(), newGroupIDs()
	a1, _, _ := g1.assign("ns/a", a)
	b1, _, _ := g1.assign("ns/b", b)
	b2, _, _ := g2.assign("ns/b", b)
	a2, _, _ := g2.assign("ns/a", a)
	if fmt.Sprint(a1, b1) != fmt.Sprint(a2, b2) {
		t.Errorf("ids depend on the order: %v %v vs %v %v", a1, b1, a2, b2)
	}
	// A collision probes to the next free id.
	g3 := newGroupIDs()
	g3.used[a1[0]] = true
	if c, _, _ := g3.assign("ns/a", a[:1]); c[0] == a1[0] || c[0] == 0 {
		t.Errorf("collision: got %v", c)
	}
}
