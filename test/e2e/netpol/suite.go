// Package netpol is the NetworkPolicy e2e suite (issue 6), run against one lab per traffic mode by the packages
// encap and noencap: namespaces x, y and z with pods a, b and c (a on node 1, b on node 2, c on node 3), each
// serving ports 80 and 81 on TCP and UDP; every case of shared/netpol-cases.md applies its policies and compares
// the full connectivity matrix with the one policy.Evaluate gives for the objects the API then holds. A blocked
// connection must time out (dropped, not refused).
package netpol

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/switchyard-net/switchyard/policy"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
	"github.com/switchyard-net/switchyard/test/lab/workload"
)

// The model's namespaces, pods, ports and protocols.
var (
	namespaces = []string{"x", "y", "z"}
	podNames   = []string{"a", "b", "c"}
	ports      = []int32{80, 81}
	protocols  = []string{"tcp", "udp"}
)

const (
	probeTimeout = time.Second
	parallel     = 48
	settleTries  = 6 // probes of a mismatching cell before it counts (policy programming is asynchronous)
)

// Lab returns the lab of a mode: 3 nodes, flat, with address ranges of its own so that both packages can run at
// the same time as the other e2e packages.
func Lab(mode string, third int) framework.LabOptions {
	o := framework.DefaultLab()
	o.Mode = mode
	o.UnderlayCIDR = fmt.Sprintf("192.168.%d.0/24", 140+third)
	o.Underlay2 = fmt.Sprintf("192.168.%d.0/24", 150+third)
	o.ClusterCIDR = fmt.Sprintf("10.%d.0.0/16", 160+third)
	o.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 170+third)
	return o
}

// Main is a mode package's TestMain.
func Main(m *testing.M, o framework.LabOptions) { framework.Main(m, o) }

// env is the running model: its pods by "ns/name", their namespaces and addresses.
type env struct {
	f     *framework.Framework
	pods  map[string]*corev1.Pod
	netns map[string]string
	keys  []string // sorted
}

// Run sets the model up once and runs every case against it.
func Run(t *testing.T) {
	e := setup(t)
	for _, c := range cases {
		if !t.Run(c.name, func(t *testing.T) { e.run(t, c) }) {
			e.reset(t) // a failed case must not leak into the next
		}
	}
}

func setup(t *testing.T) *env {
	f := framework.Get(t)
	e := &env{f: f, pods: map[string]*corev1.Pod{}, netns: map[string]string{}}
	ctx := context.Background()
	for _, ns := range namespaces {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"ns": ns}}}
		if _, err := f.Client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
		t.Cleanup(func() { _ = f.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	}
	for _, ns := range namespaces {
		for i, name := range podNames {
			if _, err := f.Client.CoreV1().Pods(ns).Create(ctx, podObject(f, ns, name, i+1), metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating pod %s/%s: %v", ns, name, err)
			}
			t.Cleanup(func() { f.DeletePod(t, ns, name) })
		}
	}
	for _, ns := range namespaces {
		for _, name := range podNames {
			p := f.WaitPodReady(t, ns, name, 2*time.Minute)
			key := ns + "/" + name
			e.pods[key], e.netns[key] = p, f.Netns(t, p)
			e.keys = append(e.keys, key)
		}
	}
	sort.Strings(e.keys)
	return e
}

// podObject is pod name of namespace ns on lab node `node`, serving ports 80 and 81 on TCP and UDP under the
// upstream port names (serve-80-tcp, ...).
func podObject(f *framework.Framework, ns, name string, node int) *corev1.Pod {
	c := corev1.Container{Name: "main", Image: "lab/builtin-server"}
	for _, port := range ports {
		c.Ports = append(c.Ports,
			corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-tcp", port), ContainerPort: port, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-udp", port), ContainerPort: port, Protocol: corev1.ProtocolUDP})
	}
	grace := int64(1)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"pod": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}, TerminationGracePeriodSeconds: &grace,
			NodeSelector: map[string]string{"kubernetes.io/hostname": f.Lab.Plan.NodeName(node)},
			Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}
}

// run applies each step of a case and compares the matrix after each; the model is reset afterwards.
func (e *env) run(t *testing.T, c netpolCase) {
	defer e.reset(t)
	for i, s := range c.steps {
		e.apply(t, s)
		e.check(t, fmt.Sprintf("step %d", i+1))
	}
}

// apply makes a step's changes through the API.
func (e *env) apply(t *testing.T, s step) {
	ctx := context.Background()
	for _, text := range s.apply {
		np := e.policy(t, text)
		nps := e.f.Client.NetworkingV1().NetworkPolicies(np.Namespace)
		old, err := nps.Get(ctx, np.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = nps.Create(ctx, np, metav1.CreateOptions{})
		case err == nil:
			np.ResourceVersion = old.ResourceVersion
			_, err = nps.Update(ctx, np, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatalf("applying policy %s/%s: %v", np.Namespace, np.Name, err)
		}
	}
	for _, key := range s.delete {
		ns, name, _ := strings.Cut(key, "/")
		if err := e.f.Client.NetworkingV1().NetworkPolicies(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting policy %s: %v", key, err)
		}
	}
	for ns, add := range s.nsLabels {
		e.label(t, "", ns, add)
	}
	for key, add := range s.podLabels {
		ns, name, _ := strings.Cut(key, "/")
		e.label(t, ns, name, add)
	}
}

// label adds labels to a namespace (ns "") or a pod.
func (e *env) label(t *testing.T, ns, name string, add map[string]string) {
	ctx := context.Background()
	if ns == "" {
		obj, err := e.f.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for k, v := range add {
				obj.Labels[k] = v
			}
			_, err = e.f.Client.CoreV1().Namespaces().Update(ctx, obj, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatalf("labelling namespace %s: %v", name, err)
		}
		return
	}
	obj, err := e.f.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		for k, v := range add {
			obj.Labels[k] = v
		}
		_, err = e.f.Client.CoreV1().Pods(ns).Update(ctx, obj, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatalf("labelling pod %s/%s: %v", ns, name, err)
	}
}

// reset deletes every policy of the model's namespaces and restores the original labels.
func (e *env) reset(t *testing.T) {
	ctx := context.Background()
	for _, ns := range namespaces {
		if err := e.f.Client.NetworkingV1().NetworkPolicies(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Errorf("deleting the policies of %s: %v", ns, err)
		}
		if obj, err := e.f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil && len(obj.Labels) != 2 {
			obj.Labels = map[string]string{"ns": ns, "kubernetes.io/metadata.name": ns}
			if _, err := e.f.Client.CoreV1().Namespaces().Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
				t.Errorf("restoring the labels of namespace %s: %v", ns, err)
			}
		}
		for _, name := range podNames {
			if obj, err := e.f.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && len(obj.Labels) != 1 {
				obj.Labels = map[string]string{"pod": name}
				if _, err := e.f.Client.CoreV1().Pods(ns).Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
					t.Errorf("restoring the labels of pod %s/%s: %v", ns, name, err)
				}
			}
		}
	}
}

// policy renders a case's policy template with the model's addresses and parses it.
func (e *env) policy(t *testing.T, text string) *networkingv1.NetworkPolicy {
	ip := func(key string) string { return e.pods[key].Status.PodIP }
	prefix := func(key string, bits int) string {
		return netip.PrefixFrom(netip.MustParseAddr(ip(key)), bits).Masked().String()
	}
	tmpl, err := template.New("policy").Funcs(template.FuncMap{"ip": ip, "prefix": prefix}).Parse(text)
	if err != nil {
		t.Fatalf("bad policy template: %v\n%s", err, text)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatalf("rendering policy: %v", err)
	}
	var np networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(b.String()), &np); err != nil {
		t.Fatalf("bad policy: %v\n%s", err, b.String())
	}
	return &np
}

// model builds the reference model from what the API holds now.
func (e *env) model(t *testing.T) *policy.Store {
	ctx := context.Background()
	s := policy.NewStore()
	for _, ns := range namespaces {
		obj, err := e.f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.UpsertNamespace(obj)
		pods, err := e.f.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range pods.Items {
			_ = s.UpsertPod(&pods.Items[i])
		}
		nps, err := e.f.Client.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range nps.Items {
			_ = s.UpsertPolicy(&nps.Items[i])
		}
	}
	return s
}

// cell is one probe of the matrix.
type cell struct {
	from, to, proto string
	port            int32
	want            workload.Outcome
	why             string
}

// check probes the whole matrix (loopback excluded) and reports the cells that differ from the model. A cell
// that differs is probed again, up to settleTries times a second apart: the agents program policies
// asynchronously.
func (e *env) check(t *testing.T, what string) {
	t.Helper()
	m := e.model(t)
	var cells []cell
	for _, from := range e.keys {
		for _, to := range e.keys {
			if from == to {
				continue
			}
			for _, proto := range protocols {
				for _, port := range ports {
					pp := policy.TCP
					if proto == "udp" {
						pp = policy.UDP
					}
					v := m.Evaluate(netip.MustParseAddr(e.pods[from].Status.PodIP), netip.MustParseAddr(e.pods[to].Status.PodIP), pp, uint16(port))
					want := workload.Timeout
					if v.Allowed {
						want = workload.Connected
					}
					cells = append(cells, cell{from: from, to: to, proto: proto, port: port, want: want, why: v.String()})
				}
			}
		}
	}
	var bad []cell
	var got []string
	for try := 0; try < settleTries; try++ {
		if try > 0 {
			time.Sleep(time.Second)
		}
		bad, got = e.probe(t, cells)
		if len(bad) == 0 {
			return
		}
		cells = bad
	}
	for i, c := range bad {
		t.Errorf("%s: %s -> %s %s/%d: got %s, want %s (%s)", what, c.from, c.to, c.proto, c.port, got[i], c.want, c.why)
	}
}

// probe runs the cells in parallel and returns those whose outcome differs, with what they got.
func (e *env) probe(t *testing.T, cells []cell) ([]cell, []string) {
	results := make([]string, len(cells))
	ok := make([]bool, len(cells))
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i, c := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			target := net.JoinHostPort(e.pods[c.to].Status.PodIP, strconv.Itoa(int(c.port)))
			reply, out, err := workload.Probe(context.Background(), "/run/netns/"+e.netns[c.from], target, c.proto, probeTimeout)
			switch {
			case err != nil:
				results[i] = err.Error()
			case out == workload.Connected && reply != e.pods[c.to].Name:
				results[i] = fmt.Sprintf("connected to %q", reply)
			default:
				results[i] = out.String()
				ok[i] = out == c.want
			}
		}()
	}
	wg.Wait()
	var bad []cell
	var got []string
	for i, c := range cells {
		if !ok[i] {
			bad = append(bad, c)
			got = append(got, results[i])
		}
	}
	return bad, got
}
