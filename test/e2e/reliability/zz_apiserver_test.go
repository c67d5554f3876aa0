// This file runs last (go runs a package's tests file by file in name order): after a long control-plane outage the
// agents' informers resume only after client-go's back-off, and the other tests take baselines that must not race that.
package reliability

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/lab/controlplane"
)

// outage is how long the API server stays down: SWITCHYARD_E2E_APIDOWN (a Go duration) or 60 s.
func outage(t *testing.T) time.Duration {
	if s := os.Getenv("SWITCHYARD_E2E_APIDOWN"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SWITCHYARD_E2E_APIDOWN=%q: %v", s, err)
		}
		return d
	}
	return 60 * time.Second
}

// The control plane (etcd, kube-apiserver, controller-manager, scheduler) is stopped for a minute. Meanwhile pods
// keep reaching each other across nodes and a ClusterIP Service with an endpoint on each node keeps answering from
// both, and neither agent crashes or restarts. Once it is back, changes take effect: a new pod, a Service whose
// endpoints change, a new Service.
func TestAPIServerDown(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	ns := f.Namespace(t, "rel-api", nil)
	pods := createPods(t, f, ns, []string{"web1", "web2", "client1", "client2"}, []framework.PodSpec{
		{Node: 1, TCP: []int32{8080}, Labels: map[string]string{"app": "web"}},
		{Node: 2, TCP: []int32{8080}, Labels: map[string]string{"app": "web"}},
		{Node: 1, TCP: []int32{8080}},
		{Node: 2, TCP: []int32{8080}},
	})
	web1, web2, client1, client2 := pods[0], pods[1], pods[2], pods[3]
	c1NS, c2NS := f.Netns(t, client1), f.Netns(t, client2)
	web := service(t, f, ns, "web", map[string]string{"app": "web"})
	both := func(netns, ip string) (map[string]int, string) {
		seen := map[string]int{}
		var fails []string
		for k := 0; k < 6; k++ {
			reply, out := probe(netns, ip, 80, "tcp", 2*time.Second)
			if out != framework.Connected {
				fails = append(fails, fmt.Sprint(out))
				continue
			}
			seen[reply]++
		}
		return seen, strings.Join(fails, ",")
	}
	eventually(t, "the Service answering from both endpoints", 30*time.Second, func() (bool, string) {
		seen, fails := both(c1NS, web.Spec.ClusterIP)
		return seen["web1"] > 0 && seen["web2"] > 0 && fails == "", fmt.Sprintf("replies %v, failures %q", seen, fails)
	})

	nodes := []node{nodeOf(f, 1), nodeOf(f, 2)}
	agentPids := map[int]int{}
	logOff := map[int]int64{}
	for _, n := range nodes {
		agentPids[n.i], logOff[n.i] = n.agentPid(t), n.logSize()
	}
	cp, err := controlplane.Attach(f.Lab.ControlPlaneDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := cp.Config()
	down := outage(t)
	tStop := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = cp.Stop(sctx)
	cancel()
	t0 := time.Now() // the control plane is gone: the outage counts from here
	stopTook := t0.Sub(tStop)
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		startControlPlane(t, cfg)
	}
	t.Cleanup(restart) // whatever happens, the next tests get their API server back
	if err != nil {
		t.Fatalf("stopping the control plane: %v", err)
	}
	if _, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		t.Fatal("the API server still answers after the control plane was stopped")
	}

	// During the outage: probe every few seconds.
	rounds, failures := 0, 0
	var problems []string
	served := map[string]map[string]int{c1NS: {}, c2NS: {}} // client -> endpoint -> replies through the Service
	for rounds == 0 || time.Since(t0) < down {
		rounds++
		note := func(format string, args ...any) {
			failures++
			if len(problems) < 20 {
				problems = append(problems, fmt.Sprintf("%v: ", time.Since(t0).Round(time.Second))+fmt.Sprintf(format, args...))
			}
		}
		if reply, out := probeRetry(c1NS, web2.Status.PodIP, 8080, 2); out != framework.Connected || reply != "web2" {
			note("client1 -> web2 (node2): %s %q", out, reply)
		}
		if reply, out := probeRetry(c2NS, web1.Status.PodIP, 8080, 2); out != framework.Connected || reply != "web1" {
			note("client2 -> web1 (node1): %s %q", out, reply)
		}
		for _, c := range []string{c1NS, c2NS} {
			seen, fails := both(c, web.Spec.ClusterIP)
			for k, v := range seen {
				served[c][k] += v
			}
			if fails != "" || seen["web1"]+seen["web2"] != 6 {
				note("%s -> Service %s: replies %v, failures %q", c, web.Spec.ClusterIP, seen, fails)
			}
		}
		for _, n := range nodes {
			if pid, ok := f.Lab.AgentPid(n.i); !ok || pid != agentPids[n.i] {
				note("%s: agent pid %d (running %v), was %d", n.name(), pid, ok, agentPids[n.i])
			}
		}
		time.Sleep(3 * time.Second)
	}
	tRestart := time.Now()
	restart()
	back := time.Since(tRestart)
	outageTook := time.Since(t0)
	for _, p := range problems {
		t.Errorf("during the API server outage: %s", p)
	}
	for c, seen := range served {
		if seen["web1"] == 0 || seen["web2"] == 0 {
			t.Errorf("during the outage the Service answered %s only from %v: both endpoints should stay in use", c, seen)
		}
	}
	for _, n := range nodes {
		if pid, ok := f.Lab.AgentPid(n.i); !ok || pid != agentPids[n.i] {
			t.Errorf("%s: the agent restarted or died during the outage (pid %d, running %v, was %d)", n.name(), pid, ok, agentPids[n.i])
		}
		b, _ := os.ReadFile(n.agentLog())
		if tail := string(b[min(logOff[n.i], int64(len(b))):]); strings.Contains(tail, "panic") || strings.Contains(tail, "level=fatal") {
			t.Errorf("%s: the agent log shows a crash:\n%s", n.name(), lastLines(tail, 20))
		}
	}

	// After: a new pod, a changed Service (its selector moves from app=web to web2 only), a new Service.
	t1 := time.Now()
	eventually(t, "the API server answering again", time.Minute, func() (bool, string) {
		_, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	answered := time.Since(t1)
	t1 = time.Now()
	fresh := f.CreatePod(t, ns, "fresh", framework.PodSpec{Node: 2, TCP: []int32{8080}, Labels: map[string]string{"app": "fresh"}})
	podTook := time.Since(t1)
	for _, c := range fresh.Status.Conditions {
		t.Logf("new pod: condition %s since %v after its creation", c.Type, c.LastTransitionTime.Sub(fresh.CreationTimestamp.Time))
	}
	if reply, out := probeRetry(c1NS, fresh.Status.PodIP, 8080, 5); out != framework.Connected || reply != "fresh" {
		t.Errorf("client1 -> the pod created after the outage: %s %q", out, reply)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := f.Client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Selector = map[string]string{"app": "web", "name": "web2"}
		_, err = f.Client.CoreV1().Services(ns).Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	relabel(t, f, ns, "web2", "name", "web2")
	t2 := time.Now()
	eventually(t, "the changed Service answering from web2 only", 3*time.Minute, func() (bool, string) {
		seen, fails := both(c1NS, web.Spec.ClusterIP)
		return seen["web2"] == 6, fmt.Sprintf("replies %v, failures %q", seen, fails)
	})
	changedTook := time.Since(t2)
	t3 := time.Now()
	newSvc := service(t, f, ns, "fresh", map[string]string{"app": "fresh"})
	eventually(t, "the new Service answering", 3*time.Minute, func() (bool, string) {
		reply, out := probe(c1NS, newSvc.Spec.ClusterIP, 80, "tcp", 2*time.Second)
		return out == framework.Connected && reply == "fresh", fmt.Sprintf("%s %q", out, reply)
	})
	newTook := time.Since(t3)
	for _, n := range nodes {
		if pid, ok := f.Lab.AgentPid(n.i); !ok || pid != agentPids[n.i] {
			t.Errorf("%s: the agent restarted after the outage (pid %d, was %d)", n.name(), pid, agentPids[n.i])
		}
	}
	figure(t, "API server (whole control plane) down %v (stopping took %v more): %d probe rounds every 3 s (pod to pod across nodes both ways, 6 connections to a ClusterIP with an endpoint per node from each node), %d failed, Service replies by endpoint %v (node1 client) and %v (node2 client); agents kept their pids; control plane started again in %v, answering %v later; then a new pod ready in %v, a changed Service answering from its new endpoint set in %v, a new Service answering in %v",
		outageTook.Round(time.Second), stopTook.Round(time.Second), rounds, failures, served[c1NS], served[c2NS], back.Round(time.Millisecond), answered.Round(time.Millisecond),
		podTook.Round(time.Millisecond), changedTook.Round(time.Millisecond), newTook.Round(time.Millisecond))
}

// startControlPlane starts the lab's control plane again, with up to 3 attempts: controlplane.Start sometimes takes
// a process it has just started for dead (its /proc/<pid>/cmdline can read empty right after the exec) and then
// gives up, leaving that process running. The leftovers (processes of the control plane's binaries naming its
// directory) are killed by pid before the next attempt.
func startControlPlane(t *testing.T, cfg controlplane.Config) {
	t.Helper()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		_, err = controlplane.Start(ctx, cfg)
		cancel()
		if err == nil {
			return
		}
		t.Logf("starting the control plane (attempt %d): %v", attempt, err)
		killLeftovers(t, cfg.BinDir, cfg.Dir)
	}
	t.Fatalf("starting the control plane again: %v", err)
}

func killLeftovers(t *testing.T, binDir, dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv := strings.Split(string(b), "\x00")
		if strings.HasPrefix(argv[0], binDir+"/") && strings.Contains(string(b), dir) {
			t.Logf("killing leftover %s (pid %d)", argv[0], pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(time.Second)
}

// service creates a ClusterIP Service on port 80 to 8080 of the selected pods.
func service(t *testing.T, f *framework.Framework, ns, name string, sel map[string]string) *corev1.Service {
	t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP,
			Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	got, err := f.Client.CoreV1().Services(ns).Create(context.Background(), s, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Service %s: %v", name, err)
	}
	t.Cleanup(func() { _ = f.Client.CoreV1().Services(ns).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return got
}

func relabel(t *testing.T, f *framework.Framework, ns, pod, k, v string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := f.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[k] = v
		_, err = f.Client.CoreV1().Pods(ns).Update(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("labelling pod %s: %v", pod, err)
	}
}
