package ovsdb

import (
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/ovs/privateovs"
)

func TestFlowRestoreWait(t *testing.T) {
	e := newEnv(t, privateovs.Options{FlowRestoreWait: true})
	if !e.c.FlowRestoreWait() {
		t.Fatal("FlowRestoreWait() = false for an OVS started with flow-restore-wait=true")
	}
	if err := e.c.SetFlowRestoreWait(e.ctx, false); err != nil {
		t.Fatal(err)
	}
	if e.c.FlowRestoreWait() {
		t.Fatal("FlowRestoreWait() = true after clearing it")
	}
	if got := e.vsctl(t, "get", "Open_vSwitch", ".", "other_config"); got != "{}" {
		t.Fatalf("other_config after clearing flow-restore-wait = %s, want the key removed", got)
	}
	for i := 0; i < 2; i++ {
		if err := e.c.SetFlowRestoreWait(e.ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.vsctl(t, "get", "Open_vSwitch", ".", "other_config:flow-restore-wait"); got != `"true"` {
		t.Fatalf("other_config:flow-restore-wait = %s, want \"true\"", got)
	}
	if !e.c.FlowRestoreWait() {
		t.Fatal("FlowRestoreWait() = false after setting it")
	}
}

func TestUserspaceTSO(t *testing.T) {
	off := newEnv(t, privateovs.Options{})
	if off.c.UserspaceTSO() {
		t.Fatal("UserspaceTSO() = true for an OVS started without userspace-tso-enable")
	}
	on := newEnv(t, privateovs.Options{UserspaceTSO: true})
	if !on.c.UserspaceTSO() {
		t.Fatal("UserspaceTSO() = false for an OVS started with userspace-tso-enable=true")
	}
	if log := on.vswitchdLog(t); !strings.Contains(log, "Userspace TCP Segmentation Offloading support enabled") {
		t.Fatalf("ovs-vswitchd started with userspace-tso-enable=true did not enable it; its log:\n%s", log)
	}
}

func TestOVSVersion(t *testing.T) {
	e := newEnv(t, privateovs.Options{})
	if v := e.c.OVSVersion(); v != "" {
		t.Fatalf("OVSVersion() = %q before anyone set it", v)
	}
	e.vsctl(t, "set", "Open_vSwitch", ".", "ovs_version=3.1.0")
	waitFor(t, "the cache to show ovs_version", func() bool { return e.c.OVSVersion() == "3.1.0" })
}
