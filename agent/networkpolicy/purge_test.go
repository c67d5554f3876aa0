package networkpolicy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// Every policy change that installs flows ends with the datapath's megaflows purged, so that no packet is judged by
// a megaflow cached before the change (OVS's revalidation can keep one with its old verdict: docs/networkpolicy.md).
// Real traffic from pod x/a (port pa, in a private OVS) makes megaflows under a deny-all egress policy; the policy
// is replaced by one that allows port 80 and Sync must leave no megaflow behind. OVS's own revalidation is paused
// meanwhile (it could delete some megaflows by itself), so only the purge can have removed them. A failed purge
// fails Sync and is done again by the next Sync even when nothing else changed.
func TestPolicyChangePurgesDatapathFlows(t *testing.T) {
	of, o := testBridge(t, map[string]int{"gw0": 2, "pa": 10})
	ctx := context.Background()
	aMAC := net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x02}
	in := func(args ...string) {
		t.Helper()
		if out, err := nettest.InNetns(o.Netns, args[0], args[1:]...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	in("sysctl", "-qw", "net.ipv6.conf.pa.disable_ipv6=1") // no neighbour discovery of its own: only the test's packets
	in("ip", "link", "set", "pa", "address", aMAC.String())
	in("ip", "addr", "add", "10.244.1.2/24", "dev", "pa")
	in("ip", "link", "set", "pa", "up")
	in("ip", "route", "add", "10.244.0.0/16", "via", "10.244.1.1", "dev", "pa")
	in("ip", "neigh", "replace", "10.244.1.1", "lladdr", testNode.GatewayMAC.String(), "dev", "pa", "nud", "permanent")

	store := flows.NewStore(of)
	podA := flows.PodSpec{OFPort: 10, MAC: aMAC, IP: net.IPv4(10, 244, 1, 2).To4()}
	for owner, fl := range map[flows.Owner][]openflow.Flow{
		{Category: flows.Pipeline, Key: "node"}: flows.PipelineFlows(testNode),
		{Category: flows.Pod, Key: "x/a"}:       flows.PodFlows(testNode, podA),
	} {
		if err := store.Stage(owner, fl, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	purges, failPurge := 0, false
	c, err := New(Config{NodeName: "n1", PurgeDatapath: func(ctx context.Context) error {
		if failPurge {
			return errors.New("ovs-appctl revalidator/purge failed")
		}
		purges++
		return of.PurgeDatapathFlows(ctx)
	}}, fake.NewClientset(), store, func(string, string) (netip.Addr, uint32, bool) { return netip.Addr{}, 0, false }, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	c.model.UpsertNamespace(namespace("x", nil))
	c.model.UpsertNamespace(namespace("y", nil))
	_ = c.model.UpsertPod(pod("x", "a", "n1", "10.244.1.2", map[string]string{"pod": "a"}))
	_ = c.model.UpsertPod(pod("y", "b", "n2", "10.244.2.3", map[string]string{"pod": "b"}))
	c.comp.setLocalPod("x/a", addr("10.244.1.2"), 10)
	deny := egressPolicy("x", "egress", map[string]string{"pod": "a"}, nil)
	deny.Spec.Egress = nil
	if err := c.model.UpsertPolicy(deny); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// Megaflows for x/a -> y/b under the deny-all policy.
	var before []string
	for deadline := time.Now().Add(10 * time.Second); len(before) == 0; time.Sleep(100 * time.Millisecond) {
		for port := range 3 {
			in("bash", "-c", "echo x > /dev/udp/10.244.2.3/"+[]string{"80", "81", "82"}[port])
		}
		if before, err = of.DatapathFlows(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("x/a's packets made no datapath flow")
		}
	}

	if _, err := o.Appctl(ctx, "revalidator/pause"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = o.Appctl(context.Background(), "revalidator/resume") })
	allow := egressPolicy("x", "egress", map[string]string{"pod": "a"},
		[]networkingv1.NetworkPolicyPeer{podPeer(map[string]string{"pod": "b"})}, intstr.FromInt32(80))
	if err := c.model.UpsertPolicy(allow); err != nil {
		t.Fatal(err)
	}
	failPurge = true
	if err := c.Sync(ctx); err == nil {
		t.Fatal("Sync succeeded although the purge failed")
	}
	failPurge = false
	if err := c.Sync(ctx); err != nil { // nothing new to install: the purge alone is retried
		t.Fatal(err)
	}
	if purges != 2 {
		t.Errorf("%d purges, want 2 (one per installed change, the failed one retried)", purges)
	}
	after, err := of.DatapathFlows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) > 0 {
		t.Errorf("datapath flows cached before the policy change are still there:\n%s", strings.Join(after, "\n"))
	}
	if err := c.Sync(ctx); err != nil || purges != 2 {
		t.Errorf("a Sync without changes purged again (%d purges, err %v)", purges, err)
	}
}
