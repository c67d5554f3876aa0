package kubelet

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/test/lab/workload"
)

func TestNodeReadyFollowsConflist(t *testing.T) {
	h := newHarness(t)
	h.start()
	nodeReady := func(want v1.ConditionStatus) func() (bool, string) {
		return func() (bool, string) {
			n, err := h.client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return readyOf(n.Status) == want, fmt.Sprintf("conditions %v", n.Status.Conditions)
		}
	}
	h.eventually("node registered not ready", nodeReady(v1.ConditionFalse))
	h.writeConflist()
	h.eventually("node ready once the conflist exists", nodeReady(v1.ConditionTrue))
	h.eventually("lease", func() (bool, string) {
		l, err := h.client.CoordinationV1().Leases(leaseNamespace).Get(context.Background(), "n1", metav1.GetOptions{})
		return err == nil && *l.Spec.HolderIdentity == "n1", fmt.Sprint(err)
	})
}

func TestPodsRunProbeAndFinish(t *testing.T) {
	h := newHarness(t)
	h.writeConflist()
	h.start()
	web := h.createPod(builtinPod("web"))
	failed := h.createPod(commandPod("fails", v1.RestartPolicyNever, "echo bye; exit 3"))
	loop := h.createPod(commandPod("loops", v1.RestartPolicyAlways, "exit 1"))
	host := commandPod("host", v1.RestartPolicyAlways, "sleep 300")
	host.Spec.HostNetwork = true
	host = h.createPod(host)

	p := h.waitPod("web", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning && isReady(p) })
	if !strings.HasPrefix(p.Status.PodIP, "10.250.200.") || p.Status.HostIP != "10.250.100.1" ||
		!strings.HasPrefix(p.Status.ContainerStatuses[0].ContainerID, "lab://") {
		t.Errorf("web status: %+v", p.Status)
	}
	rec := h.podRecordOf(web)
	if rec == nil || !netnsExists(rec.Netns) || len(rec.Netns) > maxNetnsName {
		t.Fatalf("web record %+v", rec)
	}
	if n := h.cniCalls("ADD", "K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID="+rec.SandboxID); n != 1 {
		t.Errorf("%d ADDs with the pod's CNI_ARGS", n)
	}
	for _, proto := range []string{"tcp", "udp"} {
		port := map[string]string{"tcp": "8080", "udp": "5353"}[proto]
		reply, o, err := workload.Probe(context.Background(), netnsPath(rec.Netns), p.Status.PodIP+":"+port, proto, 2*time.Second)
		if err != nil || o != workload.Connected || reply != "web" {
			t.Errorf("probe %s to web = %q, %v, %v", proto, reply, o, err)
		}
	}

	p = h.waitPod("fails", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 {
		t.Errorf("fails: container status %+v", p.Status.ContainerStatuses[0])
	}
	h.eventually("network of the finished pod released", func() (bool, string) {
		r := h.podRecordOf(failed)
		return r != nil && r.NetworkReleased && !netnsExists(r.Netns), fmt.Sprintf("%+v", r)
	})

	h.waitPod("loops", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	_ = loop

	p = h.waitPod("host", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning && isReady(p) })
	if p.Status.PodIP != "10.250.100.1" {
		t.Errorf("hostNetwork pod IP %s", p.Status.PodIP)
	}
	if pid := h.pidOf(host, "main"); pid == 0 || !inNetnsNamed(t, pid, h.cfg.NodeNetns) {
		t.Errorf("hostNetwork pod's process %d is not in the node namespace %s", pid, h.cfg.NodeNetns)
	}

	// Graceful deletion: processes stopped, DEL, namespace deleted, object finalised.
	webPid := h.pidOf(web, "srv")
	p, _ = h.getPod("web")
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, new(int64(30))
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("web finalised", func() (bool, string) {
		_, err := h.getPod("web")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if netnsExists(rec.Netns) || h.cniCalls("DEL", rec.SandboxID) == 0 || h.podRecordOf(web) != nil {
		t.Errorf("web not torn down: netns %v, DELs %d", netnsExists(rec.Netns), h.cniCalls("DEL", rec.SandboxID))
	}
	if _, ok := readProcStat(webPid); ok && len(sessionMembers(webPid)) > 0 {
		t.Errorf("web's processes survive")
	}

	// Force deletion: the object just disappears.
	hostPid := h.pidOf(host, "main")
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "host", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("host torn down", func() (bool, string) {
		return h.podRecordOf(host) == nil && len(sessionMembers(hostPid)) == 0, "still recorded or running"
	})
}

// inNetnsNamed says whether a process of pid's session runs in the named network namespace.
func inNetnsNamed(t *testing.T, pid int, name string) bool {
	want, err := os.Stat(netnsPath(name))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sessionMembers(pid) {
		if st, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", p)); err == nil && os.SameFile(st, want) {
			return true
		}
	}
	return false
}
