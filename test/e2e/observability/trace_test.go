// Package observability checks yardctl's packet traces on a two-node lab: a connection that crosses the tunnel is
// traced from the source pod to the destination pod on the peer, and explain names what stops a connection that
// does not get through (a Service without endpoints, a spoofed source, a NetworkPolicy).
package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

func TestMain(m *testing.M) {
	o := framework.DefaultLab()
	o.Nodes = 2
	framework.Main(m, o)
}

// yardctl runs yardctl against node 1's agent, resolving names through the lab's API and reaching every node's
// agent through its socket.
func yardctl(t *testing.T, f *framework.Framework, args ...string) string {
	t.Helper()
	return yardctlOn(t, f, 1, args...)
}

// yardctlOn is yardctl against node i's agent.
func yardctlOn(t *testing.T, f *framework.Framework, node int, args ...string) string {
	t.Helper()
	template := filepath.Join(filepath.Dir(f.Lab.NodeDir(1)), "{node}", "run", "agent.sock")
	base := []string{"--socket", filepath.Join(f.Lab.NodeDir(node), "run", "agent.sock")}
	if len(args) > 0 && (args[0] == "trace" || args[0] == "explain") {
		base = append(base, "--kubeconfig", f.Lab.Kubeconfig(), "--socket-template", template)
	}
	cmd := exec.Command(filepath.Join(f.Lab.Options.BinDir, "yardctl"), append(args[:1:1], append(base, args[1:]...)...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("yardctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// service creates a ClusterIP Service on port 80 to targetPort 8080 of the pods with label app=<app>.
func service(t *testing.T, f *framework.Framework, ns, name, app string) *corev1.Service {
	t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": app},
		Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
	s, err := f.Client.CoreV1().Services(ns).Create(context.Background(), s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eventually retries fn (which reports whether it saw what it wants) for up to 30 seconds.
func eventually(t *testing.T, what string, fn func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := fn()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s; last:\n%s", what, last)
		}
		time.Sleep(time.Second)
	}
}

func TestTraceAcrossNodesAndExplain(t *testing.T) {
	f := framework.Get(t)
	ns := f.Namespace(t, "trace", nil)
	f.CreatePod(t, ns, "client", framework.PodSpec{Node: 1, Labels: map[string]string{"app": "client"}})
	f.CreatePod(t, ns, "friend", framework.PodSpec{Node: 1, Labels: map[string]string{"app": "friend"}})
	server := f.CreatePod(t, ns, "server", framework.PodSpec{Node: 2, Labels: map[string]string{"app": "web"}, TCP: []int32{8080}})
	service(t, f, ns, "web", "web")
	service(t, f, ns, "empty", "nothing")
	node1, node2 := f.Lab.Plan.NodeName(1), f.Lab.Plan.NodeName(2)

	out := yardctl(t, f, "nodes")
	mustContain(t, "yardctl nodes", out, node2, f.Lab.Plan.NodeIP(2).String(), "encap", "geneve")

	// Allowed, across the tunnel: the source pod, the node and tunnel, and on the peer the destination pod.
	if _, o := f.Probe(t, f.Netns(t, f.WaitPodReady(t, ns, "client", time.Minute)), server.Status.PodIP, 8080, "tcp", 5*time.Second); o != framework.Connected {
		t.Fatalf("client cannot reach the server (%v): the trace would have nothing to show", o)
	}
	out = yardctl(t, f, "trace", ns+"/client", ns+"/server:8080")
	mustContain(t, "trace pod to pod", out,
		"node "+node1+": from pod "+ns+"/client",
		"SpoofGuard        from pod "+ns+"/client",
		fmt.Sprintf("to node %s via geneve (tun_dst %s)", node2, f.Lab.Plan.NodeIP(2)),
		"node "+node2+": from the tunnel from node "+node1,
		"from the tunnel to pod "+ns+"/server",
		"=> delivered to pod "+ns+"/server",
		"verdict: delivered")

	// Through the Service: the endpoint the trace followed, then the same path.
	eventually(t, "explain through Service web", func() (bool, string) {
		out := yardctl(t, f, "explain", ns+"/client", "svc/"+ns+"/web:80")
		return strings.HasPrefix(out, "delivered:") && strings.Contains(out, "Service "+ns+"/web -> "+server.Status.PodIP+":8080") &&
			strings.Contains(out, "reaches pod "+ns+"/server on "+node2), out
	})

	// yardctl services: the Service's group with the server as its bucket, the empty Service refused by the host.
	eventually(t, "yardctl services shows both Services", func() (bool, string) {
		out := yardctl(t, f, "services", ns)
		t.Logf("yardctl services %s:\n%s", ns, out)
		return strings.Contains(out, "Service "+ns+"/web  (") && strings.Contains(out, "bucket 0  "+server.Status.PodIP+":8080") &&
			strings.Contains(out, "Service "+ns+"/empty") && strings.Contains(out, "no ready endpoint, the host refuses") &&
			!strings.Contains(out, "NOT IN br-int"), out
	})

	// A Service without endpoints: refused by the host, naming the Service.
	out = yardctl(t, f, "explain", ns+"/client", "svc/"+ns+"/empty:80")
	mustContain(t, "explain empty Service", out, "refused:", "Service "+ns+"/empty has no ready endpoint")

	// A spoofed source from the client's port: dropped by the spoof guard.
	var pods []api.Attachment
	if err := json.Unmarshal([]byte(yardctl(t, f, "pods", "-o", "json")), &pods); err != nil {
		t.Fatal(err)
	}
	port := 0
	for _, p := range pods {
		if p.PodNamespace == ns && p.PodName == "client" {
			port = int(p.OFPort)
		}
	}
	out = yardctl(t, f, "explain", "10.244.255.250", ns+"/server:8080", "--in-port", fmt.Sprint(port))
	mustContain(t, "explain spoofed", out, "dropped:", "in SpoofGuard", "spoofed source?")

	// NetworkPolicy: the server accepts only app=friend; the client is dropped on node2 in IngressRule, naming the
	// policy; the friend is allowed by its rule.
	tcp := corev1.ProtocolTCP
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "only-friend", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "friend"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr(intstr.FromInt32(8080))}}}}}}
	if _, err := f.Client.NetworkingV1().NetworkPolicies(ns).Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "explain names the isolating policy", func() (bool, string) {
		out := yardctl(t, f, "explain", ns+"/client", ns+"/server:8080")
		return strings.HasPrefix(out, "dropped:") && strings.Contains(out, "on "+node2+" in IngressRule") &&
			strings.Contains(out, "pod "+ns+"/server is isolated for ingress") && strings.Contains(out, ns+"/only-friend"), out
	})
	eventually(t, "explain names the allowing rule", func() (bool, string) {
		out := yardctl(t, f, "explain", ns+"/friend", ns+"/server:8080")
		return strings.HasPrefix(out, "delivered:") && strings.Contains(out, "allowed by policy "+ns+"/only-friend ingress rule 0 on "+node2), out
	})
	if _, o := f.Probe(t, f.Netns(t, f.WaitPodReady(t, ns, "client", time.Minute)), server.Status.PodIP, 8080, "tcp", 3*time.Second); o == framework.Connected {
		t.Errorf("the client still reaches the server although explain says it is dropped")
	}

	// yardctl policies on the server's node: the policy isolates the server, its rule, and the client's dropped
	// packets; node1 has no pod it isolates.
	out = yardctlOn(t, f, 2, "policies", ns)
	t.Logf("yardctl policies %s on %s:\n%s", ns, node2, out)
	mustContain(t, "yardctl policies on "+node2, out, "Policy "+ns+"/only-friend",
		"isolates pod "+ns+"/server for ingress: ",
		"ingress rule 0: allows from pods ns="+ns+" {app=friend} (1 address) on TCP/8080")
	if strings.Contains(out, "for ingress: 0 packets dropped") {
		t.Errorf("the client's refused connection is not counted as dropped:\n%s", out)
	}
	out = yardctl(t, f, "policies")
	mustContain(t, "yardctl policies on "+node1, out, "node "+node1+", 0 NetworkPolicies (and ")
}

func ptr[T any](v T) *T { return &v }

// Through a Service with endpoints on both nodes, --endpoint makes the trace follow that endpoint's bucket (OVS
// follows it, nothing simulated) to its pod and node, and says which bucket; an endpoint that is not one is an
// error naming the endpoints.
func TestTraceNamedEndpoint(t *testing.T) {
	f := framework.Get(t)
	ns := f.Namespace(t, "endpoint", nil)
	f.CreatePod(t, ns, "client", framework.PodSpec{Node: 1})
	a := f.CreatePod(t, ns, "duo-a", framework.PodSpec{Node: 1, Labels: map[string]string{"app": "duo"}, TCP: []int32{8080}})
	b := f.CreatePod(t, ns, "duo-b", framework.PodSpec{Node: 2, Labels: map[string]string{"app": "duo"}, TCP: []int32{8080}})
	duo := service(t, f, ns, "duo", "duo")
	f.WaitPodReady(t, ns, "client", time.Minute)
	node1, node2 := f.Lab.Plan.NodeName(1), f.Lab.Plan.NodeName(2)
	eventually(t, "Service duo has both endpoints", func() (bool, string) {
		out := yardctl(t, f, "services", ns+"/duo")
		return strings.Contains(out, "-> 2 endpoints"), out
	})
	for _, c := range []struct {
		pod  *corev1.Pod
		node string
	}{{a, node1}, {b, node2}} {
		out := yardctl(t, f, "trace", ns+"/client", "svc/"+ns+"/duo:80", "--endpoint", ns+"/"+c.pod.Name)
		mustContain(t, "trace through endpoint "+c.pod.Name, out,
			"Service "+ns+"/duo -> endpoint "+c.pod.Status.PodIP+":8080",
			", "+c.pod.Status.PodIP+":8080, as --endpoint asked)",
			"verdict: delivered: ", "reaches pod "+ns+"/"+c.pod.Name+" on "+c.node)
		if strings.Contains(out, "simulated") {
			t.Errorf("OVS did not follow the bucket itself:\n%s", out)
		}
	}
	out := yardctl(t, f, "trace", ns+"/client", "svc/"+ns+"/duo:80")
	t.Logf("%s", out)
	mustContain(t, "trace through the first bucket", out, "this trace follows bucket 0, ", ", the first; --endpoint follows another)")

	// After a real connection, the trace follows the endpoint the datapath gave it (conntrack's).
	reply, o := f.Probe(t, f.Netns(t, f.WaitPodReady(t, ns, "client", time.Minute)), duo.Spec.ClusterIP, 80, "tcp", 5*time.Second)
	if o != framework.Connected {
		t.Fatalf("client cannot reach Service duo: %v", o)
	}
	served := map[string]*corev1.Pod{a.Name: a, b.Name: b}[reply]
	if served == nil {
		t.Fatalf("Service duo answered %q, not one of its pods", reply)
	}
	out = yardctl(t, f, "trace", ns+"/client", "svc/"+ns+"/duo:80")
	t.Logf("after a connection served by %s:\n%s", reply, out)
	mustContain(t, "trace after a real connection", out, ", "+served.Status.PodIP+":8080, the one the datapath gave the client's connection from port ",
		"reaches pod "+ns+"/"+served.Name)

	cmd := exec.Command(filepath.Join(f.Lab.Options.BinDir, "yardctl"), "trace", "--socket", filepath.Join(f.Lab.NodeDir(1), "run", "agent.sock"),
		ns+"/client", duo.Spec.ClusterIP+":80", "--endpoint", "10.244.255.254:1")
	if got, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(got), "is not one of the Service's endpoints") {
		t.Errorf("a wrong --endpoint: %v\n%s", err, got)
	}
}
