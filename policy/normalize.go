package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// policyPlan is a NetworkPolicy normalized into group definitions, before the store shares the groups.
type policyPlan struct {
	key       PolicyKey
	appliedTo *selection // nil: the policy's podSelector is invalid and the policy applies to no pod
	types     [2]bool    // isolates in Ingress, Egress
	rules     []rulePlan
	errs      []error
}

// rulePlan is one rule in terms of group definitions.
type rulePlan struct {
	dir     Direction
	index   int
	anyPeer bool
	peers   []groupDef
	anyPort bool
	ports   []PortRange
	named   []groupDef // NamedPortGroup definitions, already combined with the side they resolve against
}

// everyPod selects all pods of all namespaces: the base of an egress named port toward "any peer".
var everyPod = selection{nsSel: labels.Everything(), podSel: labels.Everything()}

// plan normalizes np. Problems are collected in errs and fail closed: an invalid rule is dropped (it allows
// nothing) while the policy still isolates its pods; an invalid podSelector makes the policy apply to nothing,
// since no pod set can be derived from it. Nothing here panics on malformed input.
func plan(np *networkingv1.NetworkPolicy) *policyPlan {
	p := &policyPlan{key: PolicyKey{np.Namespace, np.Name}}
	podSel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("spec.podSelector: %w; the policy applies to no pod", err))
	} else {
		p.appliedTo = &selection{ns: np.Namespace, podSel: podSel}
	}
	if len(np.Spec.PolicyTypes) == 0 {
		p.types[Ingress] = true
		p.types[Egress] = len(np.Spec.Egress) > 0
	}
	for i, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.types[Ingress] = true
		case networkingv1.PolicyTypeEgress:
			p.types[Egress] = true
		default:
			p.errs = append(p.errs, fmt.Errorf("spec.policyTypes[%d]: %q is neither Ingress nor Egress", i, t))
		}
	}
	if p.appliedTo == nil {
		return p
	}
	if p.types[Ingress] {
		for i, r := range np.Spec.Ingress {
			p.addRule(Ingress, i, r.From, r.Ports, fmt.Sprintf("spec.ingress[%d]", i))
		}
	}
	if p.types[Egress] {
		for i, r := range np.Spec.Egress {
			p.addRule(Egress, i, r.To, r.Ports, fmt.Sprintf("spec.egress[%d]", i))
		}
	}
	return p
}

func (p *policyPlan) addRule(dir Direction, index int, peers []networkingv1.NetworkPolicyPeer,
	ports []networkingv1.NetworkPolicyPort, where string) {
	r := rulePlan{dir: dir, index: index, anyPeer: len(peers) == 0, anyPort: len(ports) == 0}
	peerField := "from"
	if dir == Egress {
		peerField = "to"
	}
	bad := false
	for i := range peers {
		def, err := peerDef(p.key.Namespace, &peers[i])
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("%s.%s[%d]: %w; the rule is ignored", where, peerField, i, err))
			bad = true
			continue
		}
		r.peers = append(r.peers, def)
	}
	var names []namedPort
	for i := range ports {
		pr, name, err := portSpec(&ports[i])
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("%s.ports[%d]: %w; the rule is ignored", where, i, err))
			bad = true
			continue
		}
		if name != "" {
			names = append(names, namedPort{name: name, proto: pr.Protocol})
		} else {
			r.ports = append(r.ports, pr)
		}
	}
	if bad {
		return
	}
	for _, n := range names {
		if dir == Ingress {
			r.named = append(r.named, groupDef{kind: NamedPortGroup, sel: *p.appliedTo, proto: n.proto, portName: n.name})
			continue
		}
		if r.anyPeer {
			r.named = append(r.named, groupDef{kind: NamedPortGroup, sel: everyPod, proto: n.proto, portName: n.name})
		}
		for _, peer := range r.peers {
			d := peer
			d.kind, d.overCIDR, d.proto, d.portName = NamedPortGroup, peer.kind == CIDRGroup, n.proto, n.name
			r.named = append(r.named, d)
		}
	}
	p.rules = append(p.rules, r)
}

// peerDef turns one peer into a group definition. A podSelector alone selects in the policy's namespace; a
// namespaceSelector selects all pods (or the podSelector's pods, AND) of the namespaces it matches.
func peerDef(ns string, peer *networkingv1.NetworkPolicyPeer) (groupDef, error) {
	if peer.IPBlock != nil {
		if peer.PodSelector != nil || peer.NamespaceSelector != nil {
			return groupDef{}, fmt.Errorf("ipBlock cannot be combined with podSelector or namespaceSelector")
		}
		cidrs, err := parseIPBlock(peer.IPBlock)
		if err != nil {
			return groupDef{}, err
		}
		return groupDef{kind: CIDRGroup, cidrs: cidrs}, nil
	}
	if peer.PodSelector == nil && peer.NamespaceSelector == nil {
		return groupDef{}, fmt.Errorf("a peer needs a podSelector, a namespaceSelector or an ipBlock")
	}
	sel := selection{ns: ns, podSel: labels.Everything()}
	if peer.PodSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
		if err != nil {
			return groupDef{}, fmt.Errorf("podSelector: %w", err)
		}
		sel.podSel = s
	}
	if peer.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
		if err != nil {
			return groupDef{}, fmt.Errorf("namespaceSelector: %w", err)
		}
		sel.ns, sel.nsSel = "", s
	}
	return groupDef{kind: PodGroup, sel: sel}, nil
}

// portSpec validates one port entry: a numeric port or range (PortRange), or a named port (name != "").
func portSpec(p *networkingv1.NetworkPolicyPort) (PortRange, string, error) {
	proto := corev1.ProtocolTCP
	if p.Protocol != nil {
		proto = *p.Protocol
	}
	pr, err := parseProtocol(proto)
	if err != nil {
		return PortRange{}, "", err
	}
	r := PortRange{Protocol: pr}
	switch {
	case p.Port == nil:
		if p.EndPort != nil {
			return r, "", fmt.Errorf("endPort %d needs a numeric port", *p.EndPort)
		}
		return r, "", nil
	case p.Port.Type == intstr.String:
		if p.EndPort != nil {
			return r, "", fmt.Errorf("endPort %d cannot follow the named port %q", *p.EndPort, p.Port.StrVal)
		}
		if n := len(p.Port.StrVal); n == 0 || n > 15 {
			return r, "", fmt.Errorf("port name %q must have 1 to 15 characters", p.Port.StrVal)
		}
		return r, p.Port.StrVal, nil
	}
	if p.Port.IntVal < 1 || p.Port.IntVal > 65535 {
		return r, "", fmt.Errorf("port %d is out of range 1-65535", p.Port.IntVal)
	}
	r.Port, r.EndPort = uint16(p.Port.IntVal), uint16(p.Port.IntVal)
	if p.EndPort != nil {
		if *p.EndPort < p.Port.IntVal || *p.EndPort > 65535 {
			return r, "", fmt.Errorf("endPort %d must be between port %d and 65535", *p.EndPort, p.Port.IntVal)
		}
		r.EndPort = uint16(*p.EndPort)
	}
	return r, "", nil
}

// parseProtocol maps a Kubernetes protocol name ("" is TCP) to its number.
func parseProtocol(p corev1.Protocol) (Protocol, error) {
	switch p {
	case corev1.ProtocolTCP, "":
		return TCP, nil
	case corev1.ProtocolUDP:
		return UDP, nil
	case corev1.ProtocolSCTP:
		return SCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want TCP, UDP or SCTP)", p)
}
