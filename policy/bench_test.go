package policy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The scale of issue 6: 1,000 pods in 20 namespaces and 500 policies (25 per namespace), each with an ingress
// rule (a pod selector, and a namespace AND pod selector; a numeric and a named port) and an egress rule (a pod
// selector and an ipBlock with an except; TCP and a UDP range).
const benchNamespaces, benchPodsPerNs, benchPoliciesPerNs = 20, 50, 25

func benchObjects() (nss []*corev1.Namespace, pods []*corev1.Pod, nps []*networkingv1.NetworkPolicy) {
	udp := corev1.ProtocolUDP
	for i := range benchNamespaces {
		ns := fmt.Sprintf("ns%d", i)
		nss = append(nss, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"team": fmt.Sprintf("t%d", i%4), nameLabel: ns}}})
		for j := range benchPodsPerNs {
			pods = append(pods, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("pod%d", j),
					Labels: map[string]string{"app": fmt.Sprintf("app%d", j%10), "tier": []string{"web", "db", "cache"}[j%3]}},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node%d", j%3), Containers: []corev1.Container{{Name: "c",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + j%5)}, {Name: "metrics", ContainerPort: 9090}}}}},
				Status: corev1.PodStatus{PodIP: fmt.Sprintf("10.%d.%d.%d", i, j/200, j%200+1)},
			})
		}
		for j := range benchPoliciesPerNs {
			app := func(k int) *metav1.LabelSelector {
				return &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app%d", (j+k)%10)}}
			}
			p80, http, p5432 := intstr.FromInt32(80), intstr.FromString("http"), intstr.FromInt32(5432)
			p53, end := intstr.FromInt32(53), int32(60)
			nps = append(nps, &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("np%d", j)},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: *app(0),
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						From: []networkingv1.NetworkPolicyPeer{{PodSelector: app(1)}, {PodSelector: app(j),
							NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", j%4)}}}},
						Ports: []networkingv1.NetworkPolicyPort{{Port: &p80}, {Port: &http}}}},
					Egress: []networkingv1.NetworkPolicyEgressRule{{
						To: []networkingv1.NetworkPolicyPeer{{PodSelector: app(2)},
							{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{fmt.Sprintf("10.%d.0.0/16", i)}}}},
						Ports: []networkingv1.NetworkPolicyPort{{Port: &p5432}, {Protocol: &udp, Port: &p53, EndPort: &end}}}},
				},
			})
		}
	}
	return nss, pods, nps
}

func fillStore(nss []*corev1.Namespace, pods []*corev1.Pod, nps []*networkingv1.NetworkPolicy) *Store {
	s := NewStore()
	for _, ns := range nss {
		s.UpsertNamespace(ns)
	}
	for _, p := range pods {
		s.UpsertPod(p)
	}
	for _, np := range nps {
		s.UpsertPolicy(np)
	}
	return s
}

// BenchmarkFullSync fills an empty store with the whole cluster and takes the full delta (the flows layer's
// initial input).
func BenchmarkFullSync(b *testing.B) {
	nss, pods, nps := benchObjects()
	var st Stats
	for b.Loop() {
		s := fillStore(nss, pods, nps)
		s.TakeDelta()
		st = s.Stats()
	}
	b.ReportMetric(float64(st.Groups), "groups")
	b.ReportMetric(float64(st.Rules), "rules")
	b.ReportMetric(float64(st.Members), "members")
}

// BenchmarkSingleChange measures one event plus TakeDelta on the full cluster, for each kind of change, and
// reports the p99 besides the mean.
func BenchmarkSingleChange(b *testing.B) {
	nss, pods, nps := benchObjects()
	changes := map[string]func(i int, s *Store){
		"pod-label": func(i int, s *Store) {
			p := pods[i%len(pods)].DeepCopy()
			p.Labels["app"] = fmt.Sprintf("app%d", (i/len(pods))%10)
			s.UpsertPod(p)
		},
		"pod-add-delete": func(i int, s *Store) {
			if p := pods[(i/2)%len(pods)]; i%2 == 0 {
				s.DeletePod(p.Namespace, p.Name)
			} else {
				s.UpsertPod(p)
			}
		},
		"namespace-label": func(i int, s *Store) {
			ns := nss[i%len(nss)].DeepCopy()
			ns.Labels["team"] = fmt.Sprintf("t%d", i%5)
			s.UpsertNamespace(ns)
		},
		"policy-update": func(i int, s *Store) {
			np := nps[i%len(nps)].DeepCopy()
			p := intstr.FromInt32(int32(1000 + i%100))
			np.Spec.Ingress[0].Ports[0].Port = &p
			s.UpsertPolicy(np)
		},
	}
	for _, name := range []string{"pod-label", "pod-add-delete", "namespace-label", "policy-update"} {
		b.Run(name, func(b *testing.B) {
			s := fillStore(nss, pods, nps)
			s.TakeDelta()
			var took []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				changes[name](i, s)
				s.TakeDelta()
				took = append(took, time.Since(start))
				i++
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// TestGroupsGrowLinearly checks the property the flows layer relies on: doubling the policies (same shapes, new
// selectors) doubles rules and group members, and adding policies that reuse existing selectors adds rules but no
// groups or members.
func TestGroupsGrowLinearly(t *testing.T) {
	nss, pods, nps := benchObjects()
	half := fillStore(nss, pods, nps[:len(nps)/2]).Stats()
	full := fillStore(nss, pods, nps).Stats()
	if full.Rules != 2*half.Rules || full.Members > 2*half.Members+len(pods) {
		t.Errorf("half %+v, full %+v: want rules x2 and members at most x2", half, full)
	}
	s := fillStore(nss, pods, nps)
	before := s.Stats()
	for _, np := range nps {
		np = np.DeepCopy()
		np.Name += "-copy"
		s.UpsertPolicy(np)
	}
	after := s.Stats()
	if after.Rules != 2*before.Rules || after.Groups != before.Groups || after.Members != before.Members {
		t.Errorf("copies of every policy: before %+v, after %+v; want twice the rules and the same groups", before, after)
	}
}
