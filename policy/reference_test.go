package policy

import (
	"net"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// world is the brute-force reference: it keeps the raw objects and judges a connection straight from the
// NetworkPolicy spec, with no normalization, groups or indexes. It shares no code with the store.
type world struct {
	Namespaces map[string]map[string]string
	Pods       map[string]*corev1.Pod
	Policies   map[string]*networkingv1.NetworkPolicy
}

func newWorld() *world {
	return &world{Namespaces: map[string]map[string]string{}, Pods: map[string]*corev1.Pod{},
		Policies: map[string]*networkingv1.NetworkPolicy{}}
}

func (w *world) nsLabels(ns string) map[string]string {
	if l, ok := w.Namespaces[ns]; ok {
		return l
	}
	return map[string]string{"kubernetes.io/metadata.name": ns}
}

func (w *world) podAt(ip netip.Addr) *corev1.Pod {
	for _, p := range w.Pods {
		if !p.Spec.HostNetwork && p.Status.PodIP == ip.String() {
			return p
		}
	}
	return nil
}

func (w *world) allowed(src, dst netip.Addr, proto string, port int32) bool {
	return w.side(false, w.podAt(src), dst, proto, port) && w.side(true, w.podAt(dst), src, proto, port)
}

// side judges ingress (to pod, from peer) or egress (from pod, to peer).
func (w *world) side(ingress bool, pod *corev1.Pod, peer netip.Addr, proto string, port int32) bool {
	if pod == nil {
		return true
	}
	isolated := false
	for _, np := range w.Policies {
		if np.Namespace != pod.Namespace {
			continue
		}
		if ok, valid := refSelect(&np.Spec.PodSelector, pod.Labels); !valid || !ok {
			continue
		}
		types := np.Spec.PolicyTypes
		if len(types) == 0 {
			types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			if len(np.Spec.Egress) > 0 {
				types = append(types, networkingv1.PolicyTypeEgress)
			}
		}
		want := networkingv1.PolicyTypeEgress
		if ingress {
			want = networkingv1.PolicyTypeIngress
		}
		if !slices.Contains(types, want) {
			continue
		}
		isolated = true
		if ingress {
			for _, r := range np.Spec.Ingress {
				if w.ruleAllows(np.Namespace, r.From, r.Ports, peer, pod, proto, port) {
					return true
				}
			}
		} else {
			dstPod := w.podAt(peer)
			for _, r := range np.Spec.Egress {
				if w.ruleAllows(np.Namespace, r.To, r.Ports, peer, dstPod, proto, port) {
					return true
				}
			}
		}
	}
	return !isolated
}

// ruleAllows: a rule with any invalid peer or port allows nothing; otherwise peers OR, ports OR.
func (w *world) ruleAllows(ns string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort,
	peer netip.Addr, dstPod *corev1.Pod, proto string, port int32) bool {
	peerOK, portOK := len(peers) == 0, len(ports) == 0
	for _, p := range peers {
		ok, valid := w.peerMatches(ns, p, peer)
		if !valid {
			return false
		}
		peerOK = peerOK || ok
	}
	for _, p := range ports {
		ok, valid := refPort(p, dstPod, proto, port)
		if !valid {
			return false
		}
		portOK = portOK || ok
	}
	return peerOK && portOK
}

func (w *world) peerMatches(ns string, p networkingv1.NetworkPolicyPeer, ip netip.Addr) (ok, valid bool) {
	if p.IPBlock != nil {
		if p.PodSelector != nil || p.NamespaceSelector != nil {
			return false, false
		}
		_, cidr, err := net.ParseCIDR(p.IPBlock.CIDR)
		if err != nil {
			return false, false
		}
		in := cidr.Contains(net.IP(ip.AsSlice()))
		for _, e := range p.IPBlock.Except {
			_, ex, err := net.ParseCIDR(e)
			if err != nil {
				return false, false
			}
			in = in && !ex.Contains(net.IP(ip.AsSlice()))
		}
		return in, true
	}
	if p.PodSelector == nil && p.NamespaceSelector == nil {
		return false, false
	}
	pod := w.podAt(ip)
	podOK, podValid := true, true
	if p.PodSelector != nil {
		podOK, podValid = refSelect(p.PodSelector, podLabels(pod))
	}
	nsOK, nsValid := pod != nil && pod.Namespace == ns, true
	if p.NamespaceSelector != nil && pod != nil {
		nsOK, nsValid = refSelect(p.NamespaceSelector, w.nsLabels(pod.Namespace))
	} else if p.NamespaceSelector != nil {
		_, nsValid = refSelect(p.NamespaceSelector, nil)
	}
	return pod != nil && podOK && nsOK, podValid && nsValid
}

func podLabels(p *corev1.Pod) map[string]string {
	if p == nil {
		return nil
	}
	return p.Labels
}

// refPort matches one port entry; named ports resolve against dstPod's containers.
func refPort(p networkingv1.NetworkPolicyPort, dstPod *corev1.Pod, proto string, port int32) (ok, valid bool) {
	want := "TCP"
	if p.Protocol != nil {
		want = string(*p.Protocol)
	}
	if want != "TCP" && want != "UDP" && want != "SCTP" {
		return false, false
	}
	switch {
	case p.Port == nil:
		return want == proto, p.EndPort == nil
	case p.Port.Type == intstr.String:
		if p.EndPort != nil || p.Port.StrVal == "" || len(p.Port.StrVal) > 15 {
			return false, false
		}
		if dstPod == nil || want != proto {
			return false, true
		}
		for _, c := range dstPod.Spec.Containers {
			for _, cp := range c.Ports {
				cpProto := string(cp.Protocol)
				if cpProto == "" {
					cpProto = "TCP"
				}
				if cp.Name == p.Port.StrVal && cpProto == proto && cp.ContainerPort == port {
					return true, true
				}
			}
		}
		return false, true
	}
	lo, hi := p.Port.IntVal, p.Port.IntVal
	if p.EndPort != nil {
		hi = *p.EndPort
	}
	if lo < 1 || lo > 65535 || hi < lo || hi > 65535 {
		return false, false
	}
	return want == proto && port >= lo && port <= hi, true
}

// refSelect evaluates a label selector by hand.
func refSelect(s *metav1.LabelSelector, l map[string]string) (ok, valid bool) {
	ok = true
	for k, v := range s.MatchLabels {
		if got, has := l[k]; !has || got != v {
			ok = false
		}
	}
	for _, e := range s.MatchExpressions {
		v, has := l[e.Key]
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				return false, false
			}
			if in := has && slices.Contains(e.Values, v); in != (e.Operator == metav1.LabelSelectorOpIn) {
				ok = false
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) != 0 {
				return false, false
			}
			if has != (e.Operator == metav1.LabelSelectorOpExists) {
				ok = false
			}
		default:
			return false, false
		}
	}
	return ok, true
}
