package networkpolicy

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// harness drives the compiler from a policy model into a flows.Store, as the controller's worker does.
type harness struct {
	model *policy.Store
	comp  *compiler
	store *flows.Store
}

func (h *harness) sync(t testing.TB) []flows.OwnerChange {
	t.Helper()
	h.comp.apply(h.model.TakeDelta())
	ch := h.comp.changes()
	if err := h.store.Apply(context.Background(), ch); err != nil {
		t.Fatalf("applying %d owners: %v", len(ch), err)
	}
	h.comp.clean(ch)
	return ch
}

// Policy flows in a real bridge: x/a (port 10) admits only x/b (port 11) on TCP 80 and its named port
// serve-81-tcp from namespace y; x/b may only reach namespace y on TCP 81. ofproto/trace shows the verdicts,
// that established packets pass, and that the host (gateway IP) always reaches a pod.
func TestPolicyVerdictsInOVS(t *testing.T) {
	of, o := testBridge(t, map[string]int{"gw0": 2, "pa": 10, "pb": 11})
	ctx := context.Background()
	store := flows.NewStore(of)
	podA := flows.PodSpec{OFPort: 10, MAC: net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x02}, IP: net.IPv4(10, 244, 1, 2).To4()}
	podB := flows.PodSpec{OFPort: 11, MAC: net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x03}, IP: net.IPv4(10, 244, 1, 3).To4()}
	for owner, fl := range map[flows.Owner][]openflow.Flow{
		{Category: flows.Pipeline, Key: "node"}: flows.PipelineFlows(testNode),
		{Category: flows.Pod, Key: "x/a"}:       flows.PodFlows(testNode, podA),
		{Category: flows.Pod, Key: "x/b"}:       flows.PodFlows(testNode, podB),
	} {
		if err := store.Stage(owner, fl, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{model: policy.NewStore(), comp: newCompiler(), store: store}
	h.model.UpsertNamespace(namespace("x", map[string]string{"ns": "x"}))
	h.model.UpsertNamespace(namespace("y", map[string]string{"ns": "y"}))
	for _, p := range []struct{ ns, name, node, ip string }{
		{"x", "a", "n1", "10.244.1.2"}, {"x", "b", "n1", "10.244.1.3"}, {"y", "a", "n2", "10.244.2.2"}} {
		_ = h.model.UpsertPod(pod(p.ns, p.name, p.node, p.ip, map[string]string{"pod": p.name}, 80, 81))
	}
	h.comp.setLocalPod("x/a", addr("10.244.1.2"), 10)
	h.comp.setLocalPod("x/b", addr("10.244.1.3"), 11)
	if err := h.model.UpsertPolicy(ingressPolicy("x", "a-from-b", map[string]string{"pod": "a"},
		[]networkingv1.NetworkPolicyPeer{podPeer(map[string]string{"pod": "b"})}, intstr.FromInt32(80))); err != nil {
		t.Fatal(err)
	}
	if err := h.model.UpsertPolicy(ingressPolicy("x", "a-named", map[string]string{"pod": "a"},
		[]networkingv1.NetworkPolicyPeer{nsPeer(map[string]string{"ns": "y"})}, intstr.FromString("serve-81-tcp"))); err != nil {
		t.Fatal(err)
	}
	if err := h.model.UpsertPolicy(egressPolicy("x", "b-to-y", map[string]string{"pod": "b"},
		[]networkingv1.NetworkPolicyPeer{nsPeer(map[string]string{"ns": "y"})}, intstr.FromInt32(81))); err != nil {
		t.Fatal(err)
	}
	h.sync(t)

	const gwMAC, aMAC, bMAC = "0a:58:0a:f4:01:01", "0a:58:0a:f4:01:02", "0a:58:0a:f4:01:03"
	tcp := func(inPort, src, dst, dlSrc, dlDst string, port string) string {
		return "in_port=" + inPort + ",tcp,dl_src=" + dlSrc + ",dl_dst=" + dlDst + ",nw_src=" + src + ",nw_dst=" + dst + ",nw_ttl=64,tp_src=40000,tp_dst=" + port
	}
	cases := []struct {
		name, packet, ct string
		allowed          bool
	}{
		{"x/b to x/a on 80 (allowed by ingress; x/b's egress allows y only)", tcp("11", "10.244.1.3", "10.244.1.2", bMAC, aMAC, "80"), "trk,new", false},
		{"y/a to x/a on 80 (from the tunnel side: not from b)", tcp("2", "10.244.2.2", "10.244.1.2", gwMAC, aMAC, "80"), "trk,new", false},
		{"y/a to x/a on the named port 81", tcp("2", "10.244.2.2", "10.244.1.2", gwMAC, aMAC, "81"), "trk,new", true},
		{"the host to x/a on 82", tcp("2", "10.244.1.1", "10.244.1.2", gwMAC, aMAC, "82"), "trk,new", true},
		{"established x/b to x/a on 80", tcp("11", "10.244.1.3", "10.244.1.2", bMAC, aMAC, "80"), "trk,est", true},
		{"x/b to y/a on 81 (egress allowed)", tcp("11", "10.244.1.3", "10.244.2.2", bMAC, gwMAC, "81"), "trk,new", true},
		{"x/b to y/a on 80 (egress denied)", tcp("11", "10.244.1.3", "10.244.2.2", bMAC, gwMAC, "80"), "trk,new", false},
		{"x/a to y/a on 80 (x/a is not egress-isolated)", tcp("10", "10.244.1.2", "10.244.2.2", aMAC, gwMAC, "80"), "trk,new", true},
	}
	check := func(t *testing.T) {
		for _, c := range cases {
			trace, err := o.Appctl(ctx, "ofproto/trace", "br-int", c.packet, "--ct-next", c.ct)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			acts := regexp.MustCompile(`(?m)^Datapath actions: (.*)$`).FindAllStringSubmatch(trace, -1)
			if len(acts) == 0 {
				t.Fatalf("%s: no datapath actions:\n%s", c.name, trace)
			}
			last := acts[len(acts)-1][1]
			if allowed := last != "drop" && !strings.HasSuffix(last, ",drop"); allowed != c.allowed {
				t.Errorf("%s: datapath actions %q, want allowed=%v\n%s", c.name, last, c.allowed, trace)
			}
		}
	}
	check(t)
	if testing.Verbose() {
		dump, _ := of.DumpFlowsMatching(ctx, "table=45")
		dump2, _ := of.DumpFlowsMatching(ctx, "table=70")
		for _, f := range append(dump, dump2...) {
			t.Logf("table=%d priority=%d %s actions=%s", f.Table, f.Priority, f.Match, f.Actions)
		}
	}

	// Deleting and restoring a policy rewrites only its own flows and the clauses it shared.
	h.model.DeletePolicy("x", "b-to-y")
	if ch := h.sync(t); len(ch) == 0 {
		t.Fatal("deleting a policy changed no owner")
	}
	if err := h.model.UpsertPolicy(egressPolicy("x", "b-to-y", map[string]string{"pod": "b"},
		[]networkingv1.NetworkPolicyPeer{nsPeer(map[string]string{"ns": "y"})}, intstr.FromInt32(81))); err != nil {
		t.Fatal(err)
	}
	h.sync(t)
	check(t)
}
