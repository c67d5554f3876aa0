package transport

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/ovs/ovsdb"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// A node namespace whose eth0 holds the node address and a route through a neighbour: PrepareNetdev moves both to
// br-phy (with a real netdev OVS), the neighbour stays reachable through OVS, and a second run (an agent restart)
// changes nothing.
func TestPrepareNetdevMovesTheAddress(t *testing.T) {
	n := newNetdevNode(t)
	ctx, db, o, node := n.ctx, n.db, n.ovs, n.node
	log := logrus.New()
	prepare := func() *Interface {
		var got *Interface
		n.inNode(func() (err error) {
			got, err = PrepareNetdev(ctx, db, n.find(), "br-phy", log)
			return err
		})
		return got
	}
	state := n.state
	tr := prepare()
	if tr.Name != "eth0" || tr.Bridge != "br-phy" || tr.Addr.String() != "192.168.231.11/24" || tr.MTU != 1500 {
		t.Errorf("prepared %+v", tr)
	}
	first := state()
	for _, want := range []string{"br-phy           UNKNOWN        192.168.231.11/24", "10.231.0.0/16 via 192.168.231.1 dev br-phy",
		"NOARP", "link/ether 0a:00:c0:a8:e7:0b"} {
		if !strings.Contains(first, want) {
			t.Errorf("after PrepareNetdev, no %q in:\n%s", want, first)
		}
	}
	if strings.Contains(nettest.Run(t, "ip", "-n", node, "-br", "addr", "show", "eth0"), "192.168.231.11") {
		t.Errorf("eth0 still holds the node address")
	}
	if out, err := exec.Command("ip", "netns", "exec", node, "ping", "-c", "2", "-W", "1", "192.168.231.1").CombinedOutput(); err != nil {
		t.Errorf("the neighbour is not reachable through br-phy: %v\n%s", err, out)
	}
	// A restart finds everything done.
	if again := prepare(); again.Name != "eth0" || again.Bridge != "br-phy" {
		t.Errorf("second run: %+v", again)
	}
	if second := state(); second != first {
		t.Errorf("a second PrepareNetdev changed the namespace:\nbefore:\n%s\nafter:\n%s", first, second)
	}
	show, err := o.Ofctl(ctx, "show", "br-phy")
	if err != nil || !strings.Contains(show, "eth0") {
		t.Errorf("br-phy ports: %v\n%s", err, show)
	}

	// ovs-vswitchd restarts as start-ovs.sh restarts it on a node with bridges (flow-restore-wait=true, which only
	// the agent clears): br-phy must forward at once, or the agent could not reach the API server.
	if err := o.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	if err := o.Vsctl(ctx, "--no-wait", "set", "Open_vSwitch", ".", "other_config:flow-restore-wait=true"); err != nil {
		t.Fatal(err)
	}
	if err := o.StartVswitchd(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restart's flow-restore-wait in the OVSDB cache", db.FlowRestoreWait)
	if cleared, err := ReleaseFlowRestoreWait(ctx, db, "br-phy", log); err != nil || !cleared {
		t.Fatalf("ReleaseFlowRestoreWait: %v, %v", cleared, err)
	}
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, err = exec.Command("ip", "netns", "exec", node, "ping", "-c", "1", "-W", "1", "192.168.231.1").CombinedOutput(); err == nil {
			return
		}
	}
	t.Errorf("after a vswitchd restart with flow-restore-wait, the neighbour is not reachable through br-phy: %v\n%s", err, out)
}

// A node whose address an earlier start moved to br-phy, now started in a mode without userspace tunnels:
// ReleaseNetdev moves the address and routes back to eth0, turns its ARP on, deletes br-phy, and the neighbour is
// reachable again through the kernel; a second start finds nothing to do. A bridge Switchyard did not create is
// left alone with an error that names it.
func TestReleaseNetdevMovesTheAddressBack(t *testing.T) {
	n := newNetdevNode(t)
	log := logrus.New()
	n.inNode(func() error {
		_, err := PrepareNetdev(n.ctx, n.db, n.find(), "br-phy", log)
		return err
	})
	var released *Interface
	n.inNode(func() (err error) {
		tr := n.find()
		if tr.Bridge != "br-phy" {
			t.Fatalf("after PrepareNetdev the finder says %+v", tr)
		}
		released, err = ReleaseNetdev(n.ctx, n.db, tr, log)
		return err
	})
	if released.Name != "eth0" || released.Bridge != "" || released.Addr.String() != "192.168.231.11/24" {
		t.Errorf("released %+v", released)
	}
	waitFor(t, "ovs-vswitchd to remove br-phy's device", func() bool {
		return exec.Command("ip", "-n", n.node, "link", "show", "br-phy").Run() != nil
	})
	state := nettest.Run(t, "ip", "-n", n.node, "-br", "addr") + nettest.Run(t, "ip", "-n", n.node, "route") +
		nettest.Run(t, "ip", "-n", n.node, "link", "show", "eth0")
	for _, want := range []string{"192.168.231.11/24", "10.231.0.0/16 via 192.168.231.1 dev eth0"} {
		if !strings.Contains(state, want) {
			t.Errorf("after ReleaseNetdev, no %q in:\n%s", want, state)
		}
	}
	if strings.Contains(state, "NOARP") || strings.Contains(state, "br-phy") {
		t.Errorf("after ReleaseNetdev, eth0 still NOARP or br-phy still there:\n%s", state)
	}
	waitFor(t, "br-phy gone from the OVSDB cache", func() bool { return n.db.BridgeExternalIDs("br-phy") == nil })
	if out, err := exec.Command("ip", "netns", "exec", n.node, "ping", "-c", "2", "-W", "1", "192.168.231.1").CombinedOutput(); err != nil {
		t.Errorf("the neighbour is not reachable through eth0 after the release: %v\n%s", err, out)
	}
	n.inNode(func() error {
		tr := n.find()
		again, err := ReleaseNetdev(n.ctx, n.db, tr, log)
		if err == nil && (again.Bridge != "" || again.Name != "eth0") {
			t.Errorf("second release: %+v", again)
		}
		return err
	})

	// Not ours: a bridge without Switchyard's external_ids.
	if err := n.ovs.Vsctl(n.ctx, "add-br", "br-other", "--", "set", "Bridge", "br-other", "datapath_type=netdev",
		"external_ids:owner=someone-else"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "br-other in the OVSDB cache", func() bool { return n.db.BridgeExternalIDs("br-other") != nil })
	_, err := ReleaseNetdev(n.ctx, n.db, &Interface{Name: "eth0", Addr: released.Addr, Bridge: "br-other"}, log)
	if err == nil || !strings.Contains(err.Error(), "br-other") || !strings.Contains(err.Error(), "did not create") {
		t.Errorf("releasing a foreign bridge: %v", err)
	}
}

// netdevNode is a node namespace whose eth0 holds the node address and a route through a neighbour in a peer
// namespace, with a private netdev OVS.
type netdevNode struct {
	t          *testing.T
	ctx        context.Context
	node, peer string
	ovs        *privateovs.OVS
	db         *ovsdb.Client
}

func newNetdevNode(t *testing.T) *netdevNode {
	nettest.RequireOVS(t)
	node := nettest.NewNetns(t, "tnode")
	peer := nettest.NewNetns(t, "tpeer")
	nettest.Run(t, "ip", "-n", node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer)
	nettest.Run(t, "ip", "-n", node, "addr", "add", "192.168.231.11/24", "dev", "eth0")
	nettest.Run(t, "ip", "-n", node, "link", "set", "eth0", "up")
	nettest.Run(t, "ip", "-n", node, "route", "add", "10.231.0.0/16", "via", "192.168.231.1")
	nettest.Run(t, "ip", "-n", peer, "addr", "add", "192.168.231.1/24", "dev", "eth0")
	nettest.Run(t, "ip", "-n", peer, "link", "set", "eth0", "up")
	nettest.Run(t, "ip", "netns", "exec", peer, "ethtool", "-K", "eth0", "tx", "off") // see docs/modes.md

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	o, err := privateovs.Start(ctx, privateovs.Options{Dir: t.TempDir(), Netns: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop() })
	db, err := ovsdb.Connect(ctx, "unix:"+o.DBSocket, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &netdevNode{t: t, ctx: ctx, node: node, peer: peer, ovs: o, db: db}
}

// inNode runs fn in the node's namespace; an error fails the test.
func (n *netdevNode) inNode(fn func() error) {
	n.t.Helper()
	if err := ns.WithNetNSPath("/run/netns/"+n.node, func(ns.NetNS) error { return fn() }); err != nil {
		n.t.Fatal(err)
	}
}

// find runs the agent's transport Finder (call it inside inNode).
func (n *netdevNode) find() *Interface {
	ports := func(br string) []string {
		var names []string
		for _, p := range n.db.Ports(br) {
			names = append(names, p.Name)
		}
		return names
	}
	tr, err := Finder{NodeIP: net.ParseIP("192.168.231.11"), PhysicalBridge: "br-phy", BridgePorts: ports}.Find()
	if err != nil {
		n.t.Fatal(err)
	}
	return tr
}

// state is the node's addresses, routes, eth0 and br-phy as ip prints them.
func (n *netdevNode) state() string {
	return nettest.Run(n.t, "ip", "-n", n.node, "-br", "addr") + nettest.Run(n.t, "ip", "-n", n.node, "route") +
		nettest.Run(n.t, "ip", "-n", n.node, "link", "show", "eth0") + nettest.Run(n.t, "ip", "-n", n.node, "link", "show", "br-phy")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
