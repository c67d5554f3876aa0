package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// On a noEncap node whose ovs-vswitchd runs with userspace TSO, pods keep tx checksum offload (and TSO) and a TCP
// transfer between them arrives intact. When vswitchd restarts without userspace TSO, the agent turns the pods' tx
// checksum offload off (their TCP would stall on partial checksums vswitchd never completes) and the transfer still
// arrives intact; when vswitchd restarts with it again, the pods get it back. The agent does not restart.
func TestPodOffloadsFollowUserspaceTSO(t *testing.T) {
	n := newNodeWith(t, "10.244.19.0/24", nodeOptions{mode: "noEncap", userspaceTSO: true})
	a, b := n.addPod("a"), n.addPod("b")
	agentPid := n.agent.Process.Pid

	expect := func(stage string, txOn bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for _, p := range []*pod{a, b} {
			for txChecksumOn(t, p.ns) != txOn {
				if time.Now().After(deadline) {
					t.Fatalf("%s: pod %s has tx checksum offload %s, want %s", stage, p.name, onOff(!txOn), onOff(txOn))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		if err := tcpTransfer(a, b, 16<<20); err != nil {
			t.Fatalf("%s: TCP from pod a to pod b: %v", stage, err)
		}
	}
	expect("vswitchd with userspace TSO", true)
	n.restartVswitchd(false)
	expect("vswitchd restarted without userspace TSO", false)
	n.restartVswitchd(true)
	expect("vswitchd restarted with userspace TSO", true)
	if n.agent == nil || n.agent.Process.Pid != agentPid {
		t.Error("the agent restarted")
	}
}

// restartVswitchd stops ovs-vswitchd, sets other_config:userspace-tso-enable as start-ovs.sh would, and starts it.
func (n *node) restartVswitchd(tso bool) {
	t := n.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.ovs.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	args := []string{"--no-wait", "remove", "Open_vSwitch", ".", "other_config", "userspace-tso-enable"}
	if tso {
		args = []string{"--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"}
	}
	if err := n.ovs.Vsctl(ctx, args...); err != nil {
		t.Fatal(err)
	}
	if err := n.ovs.StartVswitchd(ctx); err != nil {
		t.Fatal(err)
	}
}

// txChecksumOn reads eth0's tx checksum offload in the pod namespace.
func txChecksumOn(t *testing.T, podNS string) bool {
	t.Helper()
	out := nettest.Run(t, "ip", "netns", "exec", podNS, "ethtool", "-k", "eth0")
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "tx-checksumming:"); ok {
			return strings.HasPrefix(strings.TrimSpace(v), "on")
		}
	}
	t.Fatalf("no tx-checksumming in ethtool -k eth0 of %s:\n%s", podNS, out)
	return false
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
