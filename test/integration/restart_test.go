package integration

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// The agent is killed with SIGKILL and restarted while one pod pings another every 10 ms: no ping is lost, and
// after the reconcile the bridge holds exactly the same flows, all of the new cookie round.
func TestAgentKill9UnderPing(t *testing.T) {
	n := newNode(t, "10.244.15.0/24")
	a, b := n.addPod("a"), n.addPod("b")
	if err := ping(a.ns, b.ip, 2); err != nil {
		t.Fatal(err)
	}
	before := n.flows()

	var out bytes.Buffer
	pinger := exec.Command("ip", "netns", "exec", a.ns, "ping", "-i", "0.01", "-W", "1", b.ip)
	pinger.Stdout, pinger.Stderr = &out, &out
	if err := pinger.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	t0 := time.Now()
	n.stopAgent(syscall.SIGKILL)
	n.startAgent()
	restart := time.Since(t0)
	time.Sleep(time.Second)
	_ = pinger.Process.Signal(syscall.SIGINT)
	_ = pinger.Wait()

	sent, received, err := pingCounts(out.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("agent kill -9 + restart to ready took %v; ping every 10 ms: %d sent, %d received, %d lost",
		restart.Round(time.Millisecond), sent, received, sent-received)
	if sent < 100 {
		t.Errorf("only %d pings sent", sent)
	}
	if received != sent {
		t.Errorf("lost %d of %d pings across the agent restart (target 0)", sent-received, sent)
	}

	after := n.flows()
	if diff := nettest.MultisetDiff(nettest.WithoutCookies(before), nettest.WithoutCookies(after)); diff != "" {
		t.Errorf("flows changed across the restart:\n%s", diff)
	}
	oldRounds, newRounds := nettest.CookieRounds(before), nettest.CookieRounds(after)
	if len(newRounds) != 1 {
		t.Errorf("after reconcile flows carry %d cookie rounds %s, want exactly 1 (stale flows left)", len(newRounds), nettest.RoundList(newRounds))
	}
	for r := range newRounds {
		if oldRounds[r] > 0 {
			t.Errorf("the restarted agent reused round %#x", r)
		}
	}
	if err := ping(a.ns, b.ip, 2); err != nil {
		t.Error(err)
	}
	// The restarted agent knows the pods it did not attach itself: DEL works and removes everything.
	n.delPod(b)
	if err := ping(a.ns, b.ip, 1); err == nil {
		t.Error("deleted pod still answers")
	}
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (packets )?received`)

func pingCounts(out string) (sent, received int, err error) {
	m := pingStats.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no ping summary in:\n%s", out)
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	return sent, received, nil
}

// ovs-vswitchd restarts (all OpenFlow flows lost): the agent notices, replays every flow without restarting, and
// traffic is back within 2 s.
func TestVswitchdRestartReplaysFlows(t *testing.T) {
	n := newNode(t, "10.244.18.0/24")
	a, b := n.addPod("a"), n.addPod("b")
	if err := ping(a.ns, b.ip, 2); err != nil {
		t.Fatal(err)
	}
	before := nettest.WithoutCookies(n.flows())
	agentPid := n.agent.Process.Pid

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.ovs.StopVswitchd(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := n.ovs.StartVswitchd(ctx); err != nil {
		t.Fatal(err)
	}
	var back time.Duration
	for time.Since(t0) < 10*time.Second {
		if ping(a.ns, b.ip, 1) == nil {
			back = time.Since(t0)
			break
		}
	}
	if back == 0 {
		t.Fatal("no traffic 10 s after the vswitchd restart")
	}
	t.Logf("traffic back %v after ovs-vswitchd started again", back.Round(time.Millisecond))
	if back > 2*time.Second {
		t.Errorf("traffic back after %v, want within 2 s", back)
	}
	deadline := time.Now().Add(5 * time.Second)
	var after []string
	for time.Now().Before(deadline) {
		if after = nettest.WithoutCookies(n.flows()); nettest.MultisetDiff(before, after) == "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := nettest.MultisetDiff(before, after); d != "" {
		t.Errorf("flows after the replay differ:\n%s", d)
	}
	if n.agent == nil || n.agent.Process.Pid != agentPid {
		t.Error("the agent restarted")
	}
	select {
	case <-n.exited:
		t.Error("the agent exited")
	default:
	}
}
