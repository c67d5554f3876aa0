package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/agent/events"
	"github.com/switchyard-net/switchyard/test/e2e/framework"
)

// Objects the API server accepts but the agent cannot fully realize get a Warning Event from each agent, once (not
// once per resync), and do not disturb other objects: a NetworkPolicy whose named port matches no container port
// (UnresolvedNamedPort) next to a policy that admits the client, and a Service with an IPv6 externalIP in this
// IPv4 cluster (InvalidService; its IPv4 parts work) next to a sound Service.
func TestMalformedObjectsGiveEventsOthersKeepWorking(t *testing.T) {
	f := framework.Get(t)
	ctx := context.Background()
	ns := f.Namespace(t, "malformed", nil)
	server := f.CreatePod(t, ns, "server", framework.PodSpec{Node: 1, Labels: map[string]string{"app": "server"}, TCP: []int32{8080}})
	client := f.CreatePod(t, ns, "client", framework.PodSpec{Node: 2, Labels: map[string]string{"app": "client"}})
	clientNetns := f.Netns(t, client)

	serverSel := metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}
	named := intstr.FromString("no-such-port")
	numeric := intstr.FromInt32(8080)
	for _, np := range []*networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "unresolved", Namespace: ns}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: serverSel, Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &named}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "allow-client", Namespace: ns}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: serverSel, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &numeric}}}}}},
	} {
		if _, err := f.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating policy %s: %v", np.Name, err)
		}
	}
	var svcIPs []string
	for _, s := range []struct {
		name     string
		external []string
	}{{"v6-external", []string{"fd00::10", "192.0.2.10"}}, {"sound", nil}} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "server"}, ExternalIPs: s.external,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
		created, err := f.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating service %s (the API server must accept it for this test): %v", s.name, err)
		}
		svcIPs = append(svcIPs, created.Spec.ClusterIP)
	}

	// Each agent reports each problem once, even across several report passes (5 s apart) and Service resyncs.
	type key struct{ kind, name, reason, host string }
	count := func() (map[key]int, string) {
		evs, err := f.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[key]int{}
		var all []string
		for _, e := range evs.Items {
			if e.Source.Component != events.Component {
				continue
			}
			got[key{e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Source.Host}] += int(max(e.Count, 1))
			all = append(all, fmt.Sprintf("%s %s/%s %s (%s, x%d): %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name,
				e.Reason, e.Source.Host, e.Count, e.Message))
		}
		return got, strings.Join(all, "\n")
	}
	wants := []key{}
	for i := 1; i <= 2; i++ {
		host := f.Lab.Plan.NodeName(i)
		wants = append(wants, key{"NetworkPolicy", "unresolved", events.UnresolvedNamedPort, host},
			key{"Service", "v6-external", events.InvalidService, host})
	}
	eventually(t, "the agents' Events", 30*time.Second, func() (bool, string) {
		got, all := count()
		for _, w := range wants {
			if got[w] == 0 {
				return false, all
			}
		}
		return true, all
	})
	time.Sleep(12 * time.Second) // two more report passes
	got, all := count()
	t.Logf("events:\n%s", all)
	for k, n := range got {
		if n != 1 {
			t.Errorf("%v reported %d times, want once", k, n)
		}
		if k.name == "allow-client" || k.name == "sound" {
			t.Errorf("a sound object got an Event: %v", k)
		}
	}
	if !strings.Contains(all, `named port TCP/no-such-port resolves to no pod`) || !strings.Contains(all, `"fd00::10" is not an IPv4 address`) {
		t.Errorf("the Events do not name the problems:\n%s", all)
	}

	// The other objects (and the IPv4 parts of the Service) work.
	for _, c := range []struct {
		what, host string
		port       int
	}{{"the admitted client to the server", server.Status.PodIP, 8080},
		{"the Service with an IPv6 externalIP, by ClusterIP", svcIPs[0], 80},
		{"the sound Service", svcIPs[1], 80}} {
		eventually(t, c.what, 20*time.Second, func() (bool, string) {
			reply, out := f.Probe(t, clientNetns, c.host, c.port, "tcp", 2*time.Second)
			return out == framework.Connected, fmt.Sprintf("%v %q", out, reply)
		})
	}
}
