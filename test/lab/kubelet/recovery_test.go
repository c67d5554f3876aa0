package kubelet

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSandboxFailureIsReportedAndRetried(t *testing.T) {
	h := newHarness(t)
	h.writeConflist()
	if err := os.WriteFile(h.failFile, []byte("no IPs left"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start()
	pod := h.createPod(builtinPod("unlucky"))
	h.waitPod("unlucky", func(p *v1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReadyToStartContainers && c.Status == v1.ConditionFalse &&
				c.Reason == "FailedCreatePodSandBox" && strings.Contains(c.Message, "injected failure: no IPs left") {
				return p.Status.Phase == v1.PodPending
			}
		}
		return false
	})
	h.eventually("event FailedCreatePodSandBox", func() (bool, string) {
		evs, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedCreatePodSandBox" && e.InvolvedObject.Name == "unlucky" && strings.Contains(e.Message, "no IPs left") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(evs.Items))
	})
	h.eventually("retries, each undone", func() (bool, string) {
		adds, dels := h.cniCalls("ADD", ""), h.cniCalls("DEL", "")
		return adds >= 3 && dels >= adds, fmt.Sprintf("%d ADDs, %d DELs", adds, dels)
	})
	if f := filesOf(h.cfg.StateDir, pod.UID, "srv"); fileExists(f.Pid) {
		t.Errorf("a container started without a sandbox")
	}
	if err := os.Remove(h.failFile); err != nil {
		t.Fatal(err)
	}
	h.waitPod("unlucky", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning && isReady(p) })
	rec := h.podRecordOf(pod)
	if left, _ := listNetns(h.cfg.NetnsPrefix); len(left) != 1 || left[0] != rec.Netns {
		t.Errorf("namespaces %v, want only %s", left, rec.Netns)
	}
}

func TestRestartKeepsPodsAndCleansUp(t *testing.T) {
	h := newHarness(t)
	h.writeConflist()
	h.start()
	kept := h.createPod(builtinPod("kept"))
	gone := h.createPod(commandPod("gone", v1.RestartPolicyAlways, "sleep 300"))
	h.waitPod("kept", func(p *v1.Pod) bool { return isReady(p) })
	h.waitPod("gone", func(p *v1.Pod) bool { return isReady(p) })
	h.stop()

	keptRec, goneRec := h.podRecordOf(kept), h.podRecordOf(gone)
	keptPid, gonePid := h.pidOf(kept, "srv"), h.pidOf(gone, "main")
	if keptPid == 0 || gonePid == 0 {
		t.Fatalf("pods stopped with the kubelet: pids %d %d", keptPid, gonePid)
	}
	adds, gcs := h.cniCalls("ADD", ""), h.cniCalls("GC", "")
	// While the kubelet is down: a pod is force-deleted and a stray namespace appears.
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	stray := h.cfg.NetnsPrefix + "stray"
	if err := createNetns(stray); err != nil {
		t.Fatal(err)
	}

	h.start()
	h.eventually("gone torn down, stray removed, GC run", func() (bool, string) {
		gc := h.cniCalls("GC", "") > gcs && h.cniCalls("GC", goneRec.SandboxID) == gcs && h.cniCalls("GC", keptRec.SandboxID) > gcs
		return h.podRecordOf(gone) == nil && !netnsExists(goneRec.Netns) && !netnsExists(stray) && gc &&
				len(sessionMembers(gonePid)) == 0,
			fmt.Sprintf("gone recorded %v, netns %v, stray %v, gc %v", h.podRecordOf(gone) != nil, netnsExists(goneRec.Netns), netnsExists(stray), gc)
	})
	if h.cniCalls("CHECK", keptRec.SandboxID) == 0 {
		t.Errorf("kept pod's sandbox was not checked")
	}
	if n := h.cniCalls("ADD", ""); n != adds {
		t.Errorf("%d ADDs after the restart, want none", n-adds)
	}
	if pid := h.pidOf(kept, "srv"); pid != keptPid {
		t.Errorf("kept pod's server restarted: pid %d, was %d", pid, keptPid)
	}
	p := h.waitPod("kept", func(p *v1.Pod) bool { return isReady(p) })
	if p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("restart count %d", p.Status.ContainerStatuses[0].RestartCount)
	}
}

func TestRestartReattachesWhenCheckFails(t *testing.T) {
	h := newHarness(t)
	h.writeConflist()
	h.start()
	pod := h.createPod(builtinPod("broken"))
	h.waitPod("broken", func(p *v1.Pod) bool { return isReady(p) })
	h.stop()
	rec := h.podRecordOf(pod)
	pid := h.pidOf(pod, "srv")
	// The interface vanished while the kubelet was down: CHECK fails, the pod is attached again in place.
	if err := ip("-n", rec.Netns, "link", "del", "eth0"); err != nil {
		t.Fatal(err)
	}
	adds := h.cniCalls("ADD", rec.SandboxID)
	h.start()
	h.eventually("re-ADD", func() (bool, string) {
		return h.cniCalls("ADD", rec.SandboxID) == adds+1, "no new ADD"
	})
	h.waitPod("broken", func(p *v1.Pod) bool { return isReady(p) })
	if got := h.pidOf(pod, "srv"); got != pid {
		t.Errorf("server restarted (pid %d, was %d); a re-ADD in place should keep it", got, pid)
	}
}

func TestTeardownRemovesEverything(t *testing.T) {
	h := newHarness(t)
	h.writeConflist()
	h.start()
	a := h.createPod(builtinPod("a"))
	b := h.createPod(commandPod("b", v1.RestartPolicyAlways, "trap '' TERM; sleep 300"))
	h.waitPod("a", func(p *v1.Pod) bool { return isReady(p) })
	h.waitPod("b", func(p *v1.Pod) bool { return isReady(p) })
	h.stop()
	pids := []int{h.pidOf(a, "srv"), h.pidOf(b, "main")}
	recA := h.podRecordOf(a)
	if err := Teardown(context.Background(), h.cfg); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if len(sessionMembers(pid)) > 0 {
			t.Errorf("session %d survives Teardown", pid)
		}
	}
	if left, _ := listNetns(h.cfg.NetnsPrefix); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
	if h.cniCalls("DEL", recA.SandboxID) == 0 {
		t.Errorf("no CNI DEL for a")
	}
	s, _ := openState(h.cfg.StateDir)
	if n := len(s.all()); n != 0 {
		t.Errorf("%d records left", n)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
