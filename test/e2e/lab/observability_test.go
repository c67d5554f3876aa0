package lab

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// yardctl on a node shows the flows of a pod under the pod's name, and the agent's metrics report flows per table,
// local pods, CNI and programming latencies.
func TestYardctlAndMetrics(t *testing.T) {
	f := framework.Get(t)
	ns := f.Namespace(t, "obs", nil)
	p := f.CreatePod(t, ns, "observed", framework.PodSpec{Node: 1, TCP: []int32{80}})
	yardctl := filepath.Join(f.Lab.Options.BinDir, "yardctl")
	socket := filepath.Join(f.Lab.NodeDir(1), "run", "agent.sock")

	out, err := exec.Command(yardctl, "--socket", socket, "flows", "--pod", ns+"/observed").CombinedOutput()
	if err != nil {
		t.Fatalf("yardctl flows: %v\n%s", err, out)
	}
	for _, want := range []string{"Pod " + ns + "/observed/eth0@", "SpoofGuard", "nw_src=" + p.Status.PodIP, "L2ForwardingCalc"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("yardctl flows --pod lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "Pipeline node") {
		t.Errorf("--pod shows flows of other owners:\n%s", out)
	}
	out, err = exec.Command(yardctl, "--socket", socket, "pods").CombinedOutput()
	if err != nil || !strings.Contains(string(out), ns+"/observed") || !strings.Contains(string(out), p.Status.PodIP) {
		t.Errorf("yardctl pods: %v\n%s", err, out)
	}

	// The metrics and health endpoints listen on the node's loopback: pods cannot reach them.
	node := f.Lab.Plan.NodeIP(1).String()
	if _, out := f.Probe(t, f.Netns(t, p), node, 9830, "tcp", time.Second); out == framework.Connected {
		t.Errorf("a pod reached the agent's metrics at %s:9830", node)
	}
	metrics := f.Metrics(t, 1)
	checks := []struct {
		name string
		ok   func(float64) bool
	}{
		{`switchyard_flows{table="Classifier"}`, func(v float64) bool { return v > 0 }},
		{`switchyard_ovsdb_connected`, func(v float64) bool { return v == 1 }},
		{`switchyard_openflow_connected`, func(v float64) bool { return v == 1 }},
		{`switchyard_agent_ready`, func(v float64) bool { return v == 1 }},
		{`switchyard_local_pods`, func(v float64) bool { return v >= 1 }},
		{`switchyard_cni_duration_seconds_count{op="add",result="ok"}`, func(v float64) bool { return v >= 1 }},
		{`switchyard_programming_duration_seconds_count{kind="pod",result="ok"}`, func(v float64) bool { return v >= 1 }},
		{`switchyard_reconcile_duration_seconds`, func(v float64) bool { return v > 0 }},
	}
	for _, c := range checks {
		v, ok := metrics[c.name]
		if !ok || !c.ok(v) {
			t.Errorf("metric %s = %v (present %v)", c.name, v, ok)
		}
	}
}
