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
	defer cancel()
	o, err := privateovs.Start(ctx, privateovs.Options{Dir: t.TempDir(), Netns: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop() })
	db, err := ovsdb.Connect(ctx, "unix:"+o.DBSocket, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := logrus.New()
	ports := func(br string) []string {
		var names []string
		for _, p := range db.Ports(br) {
			names = append(names, p.Name)
		}
		return names
	}
	prepare := func() *Interface {
		var got *Interface
		err := ns.WithNetNSPath("/run/netns/"+node, func(ns.NetNS) error {
			tr, err := Finder{NodeIP: net.ParseIP("192.168.231.11"), PhysicalBridge: "br-phy", BridgePorts: ports}.Find()
			if err != nil {
				return err
			}
			got, err = PrepareNetdev(ctx, db, tr, "br-phy", log)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tr := prepare()
	if tr.Name != "eth0" || tr.Bridge != "br-phy" || tr.Addr.String() != "192.168.231.11/24" || tr.MTU != 1500 {
		t.Errorf("prepared %+v", tr)
	}
	state := func() string {
		addrs := nettest.Run(t, "ip", "-n", node, "-br", "addr")
		routes := nettest.Run(t, "ip", "-n", node, "route")
		eth0 := nettest.Run(t, "ip", "-n", node, "link", "show", "eth0")
		brphy := nettest.Run(t, "ip", "-n", node, "link", "show", "br-phy")
		return addrs + routes + eth0 + brphy
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
	if out, err := exec.Command("ip", "netns", "exec", peer, "bash", "-c", "exec 3<>/dev/tcp/192.168.231.11/1 || true").CombinedOutput(); err != nil {
		t.Logf("tcp probe: %v %s", err, out)
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
