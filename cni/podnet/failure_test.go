package podnet

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// setupFails runs Setup from inside node and returns its error, failing the test on success.
func setupFails(t *testing.T, node, pod ns.NetNS, cfg Config) error {
	t.Helper()
	err := node.Do(func(ns.NetNS) error {
		att, err := Setup(pod.Path(), cfg)
		if err == nil {
			t.Errorf("Setup succeeded: %+v", att)
			_ = Teardown(pod.Path(), cfg.IfName, cfg.HostIfName)
		}
		return err
	})
	if err == nil {
		t.FailNow()
	}
	return err
}

func TestSetupWithUnreachableGatewayLeavesNothing(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	cfg.Gateway = net.ParseIP("10.99.0.1").To4() // not inside 10.244.1.0/24: the route add fails

	err := setupFails(t, node, pod, cfg)
	if !strings.Contains(err.Error(), "default route via 10.99.0.1") {
		t.Errorf("error %q does not name the failed step", err)
	}
	requireNoLink(t, node, cfg.HostIfName)
	requireNoLink(t, pod, cfg.IfName)

	// The same pod can be set up afterwards with a correct gateway.
	cfg.Gateway = net.ParseIP("10.244.1.1").To4()
	setupPod(t, node, pod, cfg)
	in(t, node, func() error { return Check(pod.Path(), cfg) })
}

func TestSetupWithPodIfNameTakenLeavesNothing(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	addLink(t, pod, &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: cfg.IfName}, PeerName: "other-peer"})

	err := setupFails(t, node, pod, cfg)
	if !strings.Contains(err.Error(), "create veth pair") {
		t.Errorf("error %q does not name the failed step", err)
	}
	requireNoLink(t, node, cfg.HostIfName)
	in(t, pod, func() error {
		link, err := netlink.LinkByName(cfg.IfName)
		if err != nil || link.Type() != "veth" || !linkExists(t, "other-peer") {
			t.Errorf("pre-existing pod interface %q was disturbed: %v %v", cfg.IfName, link, err)
		}
		return nil
	})
}

func TestSetupReplacesLeftoverHostVeth(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	addLink(t, node, &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: cfg.HostIfName}, PeerName: "sy-leftover"})

	setupPod(t, node, pod, cfg)
	in(t, node, func() error { return Check(pod.Path(), cfg) })
	requireNoLink(t, node, "sy-leftover")
}

func TestSetupRefusesNonVethHostName(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	addLink(t, node, &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: cfg.HostIfName}})

	err := setupFails(t, node, pod, cfg)
	if !strings.Contains(err.Error(), "not a veth") {
		t.Errorf("error %q does not say the host name is taken by a non-veth", err)
	}
	requireNoLink(t, pod, cfg.IfName)
	in(t, node, func() error {
		if !linkExists(t, cfg.HostIfName) {
			t.Errorf("bridge %q was deleted", cfg.HostIfName)
		}
		return nil
	})
}

func TestTeardownWithDeletedNetns(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	cfg := testConfig(uniqueContainerID(t))
	setupPod(t, node, pod, cfg)
	podPath := pod.Path()
	deleteNetNS(t, pod)

	in(t, node, func() error { return Teardown(podPath, cfg.IfName, cfg.HostIfName) })
	requireNoLink(t, node, cfg.HostIfName)
	in(t, node, func() error { return Teardown(podPath, cfg.IfName, cfg.HostIfName) })
}

func TestTeardownOfNothingSucceeds(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	name := HostVethName(uniqueContainerID(t), "eth0")
	missing := filepath.Join(t.TempDir(), "no-such-netns")
	notNS := filepath.Join(t.TempDir())
	for _, path := range []string{"", missing, notNS, pod.Path()} {
		if err := node.Do(func(ns.NetNS) error { return Teardown(path, "eth0", name) }); err != nil {
			t.Errorf("Teardown(%q) with nothing to remove: %v", path, err)
		}
	}
}

func TestTeardownLeavesNonVethAlone(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	name := HostVethName(uniqueContainerID(t), "eth0")
	addLink(t, node, &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}})
	addLink(t, pod, &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}})

	in(t, node, func() error { return Teardown(pod.Path(), "eth0", name) })
	in(t, node, func() error {
		if !linkExists(t, name) {
			t.Error("host bridge was deleted")
		}
		return nil
	})
	in(t, pod, func() error {
		if !linkExists(t, "eth0") {
			t.Error("pod bridge was deleted")
		}
		return nil
	})
}
