// Package synthetic builds the synthetic clusters of the NetworkPolicy benchmarks (agent/networkpolicy's Go
// benchmarks and switchyard-bench's NetworkPolicy series), so that both measure the same workload.
package synthetic

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Cluster is a synthetic cluster: pods spread over namespaces and nodes (node n1 is the measured node), each
// with an app and a role label and a container port named serve-8080-tcp, namespaces labelled with one of three
// teams, and policies that select one app of their namespace, admit a role of their namespace plus the pods of a
// team's namespaces (a third of the cluster) on a port, a port range and the named port, and let the app reach
// the next app of the namespace and a CIDR on one port.
type Cluster struct {
	Namespaces, Pods, Policies, Nodes, Apps int
}

// Teams is the number of team labels: a team's namespaces hold a third of the pods.
const Teams = 3

// LocalNode is the name of the measured node.
const LocalNode = "n1"

// ForObjects sizes a cluster of n pods and n/2 policies as the benchmarks grow it: 100 pods per namespace, 40
// per app, 100 pods per node (at least 10 nodes), so that the measured node keeps about 100 local pods from
// 1,000 pods up.
func ForObjects(n int) Cluster {
	return Cluster{Namespaces: max(n/100, 2), Pods: n, Policies: max(n/2, 1), Nodes: max(n/100, 10), Apps: max(n/40, 2)}
}

// PodIP is the address of pod i, 10.(128+node/256).(node%256).(2+k) for the k-th pod of its node: unique while
// no node has more than 250 pods and there are at most 32,768 nodes.
func (s Cluster) PodIP(i int) netip.Addr {
	node, k := i%s.Nodes, i/s.Nodes
	return netip.AddrFrom4([4]byte{10, byte(128 + node/256), byte(node % 256), byte(2 + k)})
}

// NodeName is the node of pod i.
func (s Cluster) NodeName(i int) string { return fmt.Sprintf("n%d", 1+i%s.Nodes) }

// NamespaceName is the namespace of pod i and of policy i.
func (s Cluster) NamespaceName(i int) string { return fmt.Sprintf("ns%d", i%s.Namespaces) }

// Namespace is namespace n with its team label.
func (s Cluster) Namespace(n int, team int) *corev1.Namespace {
	name := fmt.Sprintf("ns%d", n)
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{"kubernetes.io/metadata.name": name, "team": fmt.Sprintf("t%d", team)}}}
}

// Pod is pod i, running at PodIP(i) with app label app.
func (s Cluster) Pod(i, app int) *corev1.Pod {
	ip := s.PodIP(i).String()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.NamespaceName(i), Name: fmt.Sprintf("p%d", i),
			Labels: map[string]string{"app": fmt.Sprintf("app%d", app), "role": fmt.Sprintf("r%d", i%4)}},
		Spec: corev1.PodSpec{NodeName: s.NodeName(i), Containers: []corev1.Container{{Name: "main",
			Ports: []corev1.ContainerPort{{Name: "serve-8080-tcp", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// Objects returns every namespace, pod and policy of the cluster.
func (s Cluster) Objects() ([]*corev1.Namespace, []*corev1.Pod, []*networkingv1.NetworkPolicy) {
	var nss []*corev1.Namespace
	for n := 0; n < s.Namespaces; n++ {
		nss = append(nss, s.Namespace(n, n%Teams))
	}
	var pods []*corev1.Pod
	for i := 0; i < s.Pods; i++ {
		pods = append(pods, s.Pod(i, i%s.Apps))
	}
	var nps []*networkingv1.NetworkPolicy
	for i := 0; i < s.Policies; i++ {
		nps = append(nps, s.Policy(i, 80))
	}
	return nss, pods, nps
}

// Policy is policy i; port (80 in Objects) varies it for update benchmarks.
func (s Cluster) Policy(i int, port int32) *networkingv1.NetworkPolicy {
	tcp := corev1.ProtocolTCP
	p, named, lo := intstr.FromInt32(port), intstr.FromString("serve-8080-tcp"), intstr.FromInt32(9000)
	end := int32(9100)
	sel := func(k, v string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.NamespaceName(i), Name: fmt.Sprintf("np%d", i)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", fmt.Sprintf("app%d", i%s.Apps)),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", fmt.Sprintf("r%d", i%4))},
					{NamespaceSelector: sel("team", fmt.Sprintf("t%d", i%Teams))}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}, {Protocol: &tcp, Port: &lo, EndPort: &end},
					{Protocol: &tcp, Port: &named}},
			}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", fmt.Sprintf("app%d", (i+1)%s.Apps))},
					{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("172.%d.0.0/16", 16+i%16)}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}},
			}},
		}}
}
