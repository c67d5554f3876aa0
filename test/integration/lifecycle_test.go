package integration

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
)

// CHECK, STATUS and GC through libcni, as a runtime calls them.
func TestCheckStatusAndGC(t *testing.T) {
	n := newNode(t, "10.244.17.0/24")
	keep, gone := n.addPod("keep"), n.addPod("gone")
	cfg, list := n.cni()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := cfg.GetStatusNetworkList(ctx, list); err != nil {
		t.Errorf("STATUS of a ready agent: %v", err)
	}
	if err := cfg.CheckNetworkList(ctx, list, n.runtimeConf(keep)); err != nil {
		t.Errorf("CHECK of a healthy pod: %v", err)
	}
	// A pod whose interface was changed behind our back fails CHECK.
	out, err := exec.Command("ip", "-n", keep.ns, "link", "set", "eth0", "mtu", "1300").CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := cfg.CheckNetworkList(ctx, list, n.runtimeConf(keep)); err == nil {
		t.Error("CHECK passed for a pod whose MTU was changed")
	}
	_ = exec.Command("ip", "-n", keep.ns, "link", "set", "eth0", "mtu", "1450").Run()

	// GC with only "keep" valid removes "gone" entirely and leaves "keep" working.
	err = cfg.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: []cnitypes.GCAttachment{
		{ContainerID: keep.containerID, IfName: "eth0"}}})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	for _, f := range n.ipamFiles() {
		if f == gone.ip {
			t.Errorf("GC left the IP of %s allocated", gone.name)
		}
	}
	for _, f := range n.flows() {
		if strings.Contains(f, gone.mac) {
			t.Errorf("GC left a flow of %s: %s", gone.name, f)
		}
	}
	if err := ping(keep.ns, n.gatewayIP(), 1); err != nil {
		t.Errorf("GC broke the valid pod: %v", err)
	}

	// With the agent down, STATUS reports the plugin unavailable and ADD fails fast with "try again later".
	n.stopAgent(syscall.SIGTERM)
	if err := cfg.GetStatusNetworkList(ctx, list); err == nil {
		t.Error("STATUS succeeded with the agent down")
	}
	t0 := time.Now()
	_, err = n.tryAddPod("late")
	var e *cnitypes.Error
	if !errors.As(err, &e) || e.Code != cnitypes.ErrTryAgainLater {
		t.Errorf("ADD with the agent down: %v, want code 11", err)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("ADD with the agent down took %v, want a fast failure", took)
	}
}
