package crossnode

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// Each node's ovs-vswitchd runs with userspace TSO exactly in noEncap mode (start-ovs.sh reads the agent's
// configuration), and its pods get the offloads it can carry: tx checksum offload and TSO in noEncap, off in the
// encapsulating modes (docs/modes.md). A bulk TCP transfer from every pod to the last node's pod arrives intact.
func (e *env) offloads(t *testing.T) {
	tso := e.mode == "noEncap"
	for i := 1; i <= e.nodes; i++ {
		db := "unix:" + filepath.Join(e.f.Lab.NodeDir(i), "ovs", "db.sock")
		out, _ := exec.Command("ovs-vsctl", "--db="+db, "--timeout=5", "get", "Open_vSwitch", ".", "other_config").CombinedOutput()
		if got := strings.Contains(string(out), `userspace-tso-enable="true"`); got != tso {
			t.Errorf("node %d: ovs-vswitchd's userspace TSO is %t in mode %s, want %t (other_config %s)", i, got, e.mode, tso, strings.TrimSpace(string(out)))
		}
	}
	server := e.pods[len(e.pods)-1]
	for _, p := range e.pods {
		podNS := e.f.Netns(t, p)
		out, err := exec.Command("ip", "netns", "exec", podNS, "ethtool", "-k", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("ethtool -k eth0 in %s: %v\n%s", p.Name, err, out)
		}
		if on := strings.Contains(string(out), "tx-checksumming: on"); on != tso {
			t.Errorf("pod %s (mode %s) has tx checksum offload %t, want %t", p.Name, e.mode, on, tso)
		}
		if err := nettest.TransferTCP("/run/netns/"+podNS, "/run/netns/"+e.f.Netns(t, server), server.Status.PodIP, 8<<20); err != nil {
			t.Errorf("bulk TCP %s -> %s: %v", p.Name, server.Name, err)
		}
	}
}
