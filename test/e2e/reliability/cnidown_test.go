package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// node2's agent is stopped. A pod scheduled there stays ContainerCreating: CNI ADD fails at once with code 11 (try
// again later), the kubelet reports FailedCreatePodSandBox, and nothing is left on the node (no IP, port or veth).
// Once the agent is back the pod becomes Running, and a CNI GC (a kubelet restart runs one) removes an orphan: an
// attachment the runtime no longer knows (made here by calling the plugin directly with a container id of its own).
func TestCNIWhileAgentDown(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	ns := f.Namespace(t, "rel-cni", nil)
	n2 := nodeOf(f, 2)
	client := f.CreatePod(t, ns, "client", framework.PodSpec{Node: 1, TCP: []int32{8080}})
	base := stateOf(t, n2)

	// The orphan: a CNI ADD the runtime does not know about, in a namespace of this test.
	orphanNS := fmt.Sprintf("%s-orphan%s", strings.TrimSuffix(f.Lab.Plan.NodeNS(2), "-n2"), randSuffix())
	if out, err := exec.Command("ip", "netns", "add", orphanNS).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v %s", orphanNS, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", orphanNS).Run() })
	cniConfDir := filepath.Join(f.Lab.NodeDir(2), "cni", "net.d")
	cniBinDir := filepath.Join(f.Lab.NodeDir(2), "cni", "bin")
	list := loadConflist(t, cniConfDir)
	cni := libcni.NewCNIConfigWithCacheDir([]string{cniBinDir}, t.TempDir(), nil)
	rt := &libcni.RuntimeConf{ContainerID: "orphan" + randSuffix() + randSuffix(), NetNS: "/run/netns/" + orphanNS, IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", ns}, {"K8S_POD_NAME", "orphan"}}}
	// The plugin runs in the node's namespace, as the node's runtime runs it (it dials the agent's socket there).
	if err := inNetns(f.Lab.Plan.NodeNS(2), func() error { _, err := cni.AddNetworkList(ctx, list, rt); return err }); err != nil {
		t.Fatalf("CNI ADD of the orphan: %v", err)
	}
	t.Cleanup(func() { _ = inNetns(f.Lab.Plan.NodeNS(2), func() error { return cni.DelNetworkList(ctx, list, rt) }) })
	withOrphan := stateOf(t, n2)
	if len(withOrphan.ips) != len(base.ips)+1 || len(withOrphan.ports) != len(base.ports)+1 || len(withOrphan.veths) != len(base.veths)+1 {
		t.Fatalf("the orphan's ADD did not add one IP, port and veth:\n%s", withOrphan.diff(base))
	}

	// Agent down: the pod cannot get its network, and nothing is left behind.
	if err := f.Lab.StopAgent(2, false); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = f.Lab.StartAgent(2)
		}
	})
	t0 := time.Now()
	if _, err := f.Client.CoreV1().Pods(ns).Create(ctx, podOn(f, ns, "waiting", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var event string
	eventually(t, "a FailedCreatePodSandBox event saying the agent is not reachable", time.Minute, func() (bool, string) {
		evs, err := f.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=waiting"})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			seen = append(seen, e.Reason+": "+e.Message)
			// libcni's error text carries the plugin's message, not its code: the code is checked below.
			if e.Reason == "FailedCreatePodSandBox" && (strings.Contains(e.Message, "try again") || strings.Contains(e.Message, "not reachable")) {
				event = e.Message
				return true, ""
			}
		}
		return false, fmt.Sprintf("events %q", seen)
	})
	eventSeen := time.Since(t0)
	time.Sleep(2 * time.Second) // a retry or two more
	p, err := f.Client.CoreV1().Pods(ns).Get(ctx, "waiting", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" {
		t.Errorf("with the agent down the pod is %s with IP %q, want Pending (ContainerCreating) without an IP", p.Status.Phase, p.Status.PodIP)
	}
	// The plugin itself, as the runtime calls it: code 11 (try again later), at once.
	rt2 := &libcni.RuntimeConf{ContainerID: "down" + randSuffix() + randSuffix(), NetNS: "/run/netns/" + orphanNS, IfName: "eth1",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", ns}, {"K8S_POD_NAME", "down"}}}
	tAdd := time.Now()
	addErr := inNetns(f.Lab.Plan.NodeNS(2), func() error { _, err := cni.AddNetworkList(ctx, list, rt2); return err })
	addTook := time.Since(tAdd)
	var cniErr *cnitypes.Error
	if !errors.As(addErr, &cniErr) || cniErr.Code != cnitypes.ErrTryAgainLater {
		t.Errorf("CNI ADD with the agent down: %v (%T), want code %d (try again later)", addErr, addErr, cnitypes.ErrTryAgainLater)
	}
	if d := stateOf(t, n2).diff(withOrphan); d != "" {
		t.Errorf("failed ADDs left state on node2:\n%s", d)
	}

	// Agent back: the pod runs; a kubelet restart runs CNI GC, which removes the orphan.
	t1 := time.Now()
	if err := f.Lab.StartAgent(2); err != nil {
		t.Fatal(err)
	}
	restarted = true
	p = f.WaitPodReady(t, ns, "waiting", 2*time.Minute)
	t.Cleanup(func() { f.DeletePod(t, ns, "waiting") })
	running := time.Since(t1)
	if reply, out := probeRetry(f.Netns(t, client), p.Status.PodIP, 8080, 3); out != framework.Connected || reply != "waiting" {
		t.Errorf("client -> the pod started after the agent came back: %s %q", out, reply)
	}
	if err := f.Lab.RestartKubelet(2); err != nil {
		t.Fatal(err)
	}
	var now nodeState
	eventually(t, "CNI GC removing the orphan", time.Minute, func() (bool, string) {
		now = stateOf(t, n2)
		ok := len(now.ips) == len(base.ips)+1 && len(now.ports) == len(base.ports)+1 && len(now.veths) == len(base.veths)+1 &&
			!slices.Contains(now.ips, ipOf(withOrphan, base))
		return ok, fmt.Sprintf("node2 vs the baseline (one pod more expected):\n%s", now.diff(base))
	})
	if reply, out := probeRetry(f.Netns(t, client), p.Status.PodIP, 8080, 3); out != framework.Connected || reply != "waiting" {
		t.Errorf("client -> the pod after the GC: %s %q", out, reply)
	}
	code := 0
	if cniErr != nil {
		code = int(cniErr.Code)
	}
	figure(t, "CNI while node2's agent is down: ADD fails with code %d in %v; the kubelet reports FailedCreatePodSandBox %v after the pod's creation (%q); nothing left on the node; agent back: pod Running %v later; CNI GC (kubelet restart) removed the orphan attachment, node2 has exactly its baseline plus the pod",
		code, addTook.Round(time.Millisecond), eventSeen.Round(time.Millisecond), truncate(event, 200), running.Round(time.Millisecond))
}

// ipOf is the IP allocation a state has more than base (the orphan's).
func ipOf(with, base nodeState) string {
	for _, ip := range with.ips {
		if !slices.Contains(base.ips, ip) {
			return ip
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func randSuffix() string { return fmt.Sprintf("%04x", time.Now().UnixNano()&0xffff) }

func loadConflist(t *testing.T, dir string) *libcni.NetworkConfigList {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.conflist"))
	if len(files) == 0 {
		t.Fatalf("no conflist in %s", dir)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	l, err := libcni.ConfListFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// inNetns runs fn on a thread in the named network namespace (processes it starts inherit it).
func inNetns(name string, fn func() error) error {
	return ns.WithNetNSPath("/run/netns/"+name, func(ns.NetNS) error { return fn() })
}

// podOn is a pod with the built-in server on 8080, bound to node i by its node selector.
func podOn(f *framework.Framework, ns, name string, i int) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "lab/builtin-server",
				Ports: []corev1.ContainerPort{{Name: "tcp", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
			TerminationGracePeriodSeconds: &grace,
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": f.Lab.Plan.NodeName(i)},
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
}
