package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// The agents of both nodes are killed with SIGKILL and restarted, one after the other, while a pod on node1 runs an
// iperf3 TCP stream to a pod on node2 and pings another pod on node2 100 times a second: the stream completes, no
// ping is lost, and each node ends up with exactly the flows it had, all of one new cookie round.
func TestAgentKill9UnderTraffic(t *testing.T) {
	restartUnderTraffic(t, "kill -9 and restart", func(t *testing.T, n node) {
		if err := n.f.Lab.StopAgent(n.i, true); err != nil {
			t.Fatal(err)
		}
		if err := n.f.Lab.StartAgent(n.i); err != nil {
			t.Fatal(err)
		}
	})
}

// An agent upgrade: a new binary (a copy of the agent at another path) is started in place of the old agent, which
// is stopped with SIGTERM as a DaemonSet rollout stops it. The same checks as for kill -9. The original binary is
// put back when the test ends.
func TestAgentUpgradeUnderTraffic(t *testing.T) {
	f := framework.Get(t)
	orig := filepath.Join(f.Lab.Options.BinDir, "switchyard-agent")
	dir := filepath.Join(t.TempDir(), "v2")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	upgraded := filepath.Join(dir, "switchyard-agent")
	if out, err := exec.Command("cp", orig, upgraded).CombinedOutput(); err != nil {
		t.Fatalf("copying the agent binary: %v %s", err, out)
	}
	// Runs before the temporary directory is removed: the nodes go back to the lab's binary.
	t.Cleanup(func() {
		for i := 1; i <= f.Lab.Options.Nodes; i++ {
			n := nodeOf(f, i)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", n.agentPid(t))); exe != upgraded {
				continue
			}
			off := n.logSize()
			if err := f.Lab.StopAgent(i, false); err != nil {
				t.Error(err)
			}
			if err := f.Lab.StartAgent(i); err != nil {
				t.Error(err)
				continue
			}
			n.waitAgentReady(t, off, time.Minute)
		}
	})
	restartUnderTraffic(t, "upgrade (SIGTERM, a new binary started)", func(t *testing.T, n node) {
		if err := n.f.Lab.StopAgent(n.i, false); err != nil {
			t.Fatal(err)
		}
		if err := n.f.Lab.StartAgentBinary(n.i, upgraded); err != nil {
			t.Fatal(err)
		}
		// The pid is nsenter's until it has entered the node's namespace and executed the agent.
		eventually(t, n.name()+" runs the new binary", 10*time.Second, func() (bool, string) {
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", n.agentPid(t)))
			return err == nil && exe == upgraded, fmt.Sprintf("it runs %q (%v)", exe, err)
		})
	})
}

// restartUnderTraffic restarts node1's then node2's agent with restart twice: first while a pod on node1 pings a
// pod on node2 100 times a second (no ping may be lost), then while the pod runs an iperf3 TCP stream to a pod on
// node2 (it must complete). The phases are apart because a stream through the userspace datapath of a busy 2-core
// machine makes the pings themselves lose a few packets now and then, restart or not. After each phase every node
// has exactly the flows it had before, all of one new cookie round.
func restartUnderTraffic(t *testing.T, how string, restart func(*testing.T, node)) {
	f := framework.Get(t)
	ns := f.Namespace(t, "rel-agent", nil)
	pods := createPods(t, f, ns, []string{"client", "target", "iperf"}, []framework.PodSpec{
		{Node: 1, TCP: []int32{8080}},
		{Node: 2, TCP: []int32{8080}, Labels: map[string]string{"app": "target"}},
		{Node: 2, Command: []string{"iperf3", "-s"}},
	})
	client, target, iperf := pods[0], pods[1], pods[2]
	clientNS := f.Netns(t, client)
	// A Service too (with the cluster's kubernetes Service, two): its group and flows must survive the restarts.
	svc := service(t, f, ns, "target", map[string]string{"app": "target"})
	eventually(t, "the Service answering", 30*time.Second, func() (bool, string) {
		reply, out := probe(clientNS, svc.Spec.ClusterIP, 80, "tcp", 2*time.Second)
		return out == framework.Connected && reply == "target", fmt.Sprintf("%s %q", out, reply)
	})
	if err := framework.Ping(clientNS, target.Status.PodIP, 2); err != nil {
		t.Fatal(err)
	}
	nodes := []node{nodeOf(f, 1), nodeOf(f, 2)}
	type restarted struct{ toReady, reconcile time.Duration }
	// restartBoth restarts node1's then node2's agent; it returns the flows from before, for checkReconciled once
	// the traffic is over.
	restartBoth := func(phase string) (map[int]restarted, map[int][]string) {
		f.WaitNamespacesGone(t, 2*time.Minute) // an earlier test's objects and flows still going away are not the state
		before := map[int][]string{}
		for _, n := range nodes {
			before[n.i] = n.flows(t)
		}
		res := map[int]restarted{}
		for _, n := range nodes {
			oldPid := n.agentPid(t)
			off := n.logSize()
			t1 := time.Now()
			restart(t, n)
			ready, rec := n.waitAgentReady(t, off, time.Minute)
			if n.agentPid(t) == oldPid {
				t.Fatalf("%s: the agent was not restarted", n.name())
			}
			res[n.i] = restarted{ready.Sub(t1), rec}
			t.Logf("%s, %s: agent restarted at %s, ready at %s (reconcile %v)", phase, n.name(), t1.Format("15:04:05.000"), ready.Format("15:04:05.000"), rec)
			time.Sleep(time.Second)
		}
		return res, before
	}

	// Phase 1: ping every 10 ms across the restarts of both agents.
	ping := startPing(t, "client -> target", clientNS, target.Status.PodIP, "0.01")
	time.Sleep(time.Second)
	pingRes, before := restartBoth("ping")
	pr := ping.stop()
	for _, n := range nodes {
		checkReconciled(t, n, before[n.i])
	}
	if pr.sent < 200 {
		t.Errorf("only %d pings sent", pr.sent)
	}
	if pr.lost != 0 {
		t.Errorf("%d of %d pings lost across the agent restarts (target 0); longest gap between replies %v; lost: %v", pr.lost, pr.sent, pr.gap(), pr.lostAt)
	}

	// Phase 2: one iperf3 TCP connection across the restarts of both agents, paced (10 Mbit/s) so that it does not
	// starve the machine. The server may need a moment to listen.
	eventually(t, "iperf3 server listening", 15*time.Second, func() (bool, string) {
		_, out := probe(clientNS, iperf.Status.PodIP, 5201, "tcp", time.Second)
		return out == framework.Connected, fmt.Sprint(out)
	})
	const iperfSecs = 10
	ictx, cancel := context.WithTimeout(context.Background(), (iperfSecs+30)*time.Second)
	defer cancel()
	var iperfOut strings.Builder
	ic := exec.CommandContext(ictx, "ip", "netns", "exec", clientNS, "iperf3", "-c", iperf.Status.PodIP,
		"-t", fmt.Sprint(iperfSecs), "-b", "10M", "-i", "2", "--connect-timeout", "3000")
	ic.Stdout, ic.Stderr = &iperfOut, &iperfOut
	t0 := time.Now()
	if err := ic.Start(); err != nil {
		t.Fatal(err)
	}
	iperfDone := make(chan error, 1)
	go func() { iperfDone <- ic.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	tcpRes, before := restartBoth("iperf3")
	var iperfErr error
	select {
	case iperfErr = <-iperfDone:
		t.Errorf("iperf3 ended before both restarts were over (%v after it started): its connection did not span them", time.Since(t0).Round(time.Millisecond))
	default:
		iperfErr = <-iperfDone
	}
	if iperfErr != nil {
		t.Errorf("iperf3 across the restarts failed: %v\n%s", iperfErr, iperfOut.String())
	} else {
		t.Logf("iperf3:\n%s", lastLines(iperfOut.String(), 6))
	}
	for _, n := range nodes {
		checkReconciled(t, n, before[n.i])
	}
	if _, out := probeRetry(clientNS, target.Status.PodIP, 8080, 3); out != framework.Connected {
		t.Errorf("client -> target after the restarts: %s", out)
	}
	if reply, out := probeRetry(clientNS, svc.Spec.ClusterIP, 80, 3); out != framework.Connected || reply != "target" {
		t.Errorf("client -> the Service after the restarts: %s %q", out, reply)
	}
	figure(t, "agent %s on both nodes: ping at 100/s cross-node %d sent, %d lost (longest gap %v); iperf3 TCP stream across both restarts %s; restart-to-ready node1 %v/%v, node2 %v/%v; reconcile node1 %v/%v, node2 %v/%v (ping phase/iperf3 phase); stale or duplicated flows after reconcile: %s",
		how, pr.sent, pr.lost, pr.gap().Round(time.Millisecond), okOrFailed(iperfErr),
		pingRes[1].toReady.Round(time.Millisecond), tcpRes[1].toReady.Round(time.Millisecond),
		pingRes[2].toReady.Round(time.Millisecond), tcpRes[2].toReady.Round(time.Millisecond),
		pingRes[1].reconcile, tcpRes[1].reconcile, pingRes[2].reconcile, tcpRes[2].reconcile, noneOrSee(t))
}

func okOrFailed(err error) string {
	if err == nil {
		return "completed"
	}
	return "FAILED (" + err.Error() + ")"
}

// noneOrSee says whether the test has failed so far (the flow checks run before the figure is printed).
func noneOrSee(t *testing.T) string {
	if t.Failed() {
		return "see the errors above"
	}
	return "none"
}
