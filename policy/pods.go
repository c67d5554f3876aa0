package policy

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// nameLabel is the immutable label the API server puts on every namespace.
const nameLabel = "kubernetes.io/metadata.name"

// podRec is what the store keeps of a pod.
type podRec struct {
	key    string // namespace/name
	ns     string
	node   string
	labels labels.Set
	ips    []netip.Addr // empty: no IP yet, host network, or finished
	ports  []namedPort
}

type namedPort struct {
	name  string
	proto Protocol
	port  uint16
}

// appendNamedPorts appends the numbers of the pod's container ports called name on proto. Names are unique per
// container but not per pod, so there may be several; a named port then matches each of them.
func (p *podRec) appendNamedPorts(name string, proto Protocol, out []uint16) []uint16 {
	for _, np := range p.ports {
		if np.name == name && np.proto == proto && !slices.Contains(out, np.port) {
			out = append(out, np.port)
		}
	}
	return out
}

// newPodRec extracts what policy needs from a pod. Host-network pods and finished pods get no IPs: policy does
// not apply to them and their addresses may belong to someone else. Unparsable IPs and container ports are
// skipped and reported.
func newPodRec(pod *corev1.Pod) (*podRec, error) {
	p := &podRec{key: pod.Namespace + "/" + pod.Name, ns: pod.Namespace, node: pod.Spec.NodeName,
		labels: maps.Clone(labels.Set(pod.Labels))}
	var errs []error
	done := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if !pod.Spec.HostNetwork && !done {
		ips := []string{pod.Status.PodIP}
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		for _, s := range ips {
			if s == "" {
				continue
			}
			ip, err := netip.ParseAddr(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("pod %s: status IP %q is not an IP address", p.key, s))
				continue
			}
			if ip = ip.Unmap().WithZone(""); !containsIP(p.ips, ip) {
				p.ips = append(p.ips, ip)
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == "" {
				continue
			}
			proto, err := parseProtocol(cp.Protocol)
			if err == nil && (cp.ContainerPort < 1 || cp.ContainerPort > 65535) {
				err = fmt.Errorf("containerPort %d is out of range 1-65535", cp.ContainerPort)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("pod %s: container %s port %q: %w", p.key, c.Name, cp.Name, err))
				continue
			}
			p.ports = append(p.ports, namedPort{name: cp.Name, proto: proto, port: uint16(cp.ContainerPort)})
		}
	}
	return p, errors.Join(errs...)
}

func containsIP(ips []netip.Addr, ip netip.Addr) bool {
	for _, x := range ips {
		if x == ip {
			return true
		}
	}
	return false
}

// nsLabels returns a namespace's labels, with the name label the API server always sets (also for a namespace
// not seen yet, so a pod that arrives before its namespace is still matched by name).
func (s *Store) nsLabels(ns string) labels.Set {
	if l, ok := s.namespaces[ns]; ok {
		return l
	}
	return labels.Set{nameLabel: ns}
}

// UpsertPod adds or updates a pod. The returned error names unusable IPs or container ports, which are skipped;
// the rest of the pod is applied.
func (s *Store) UpsertPod(pod *corev1.Pod) error {
	p, err := newPodRec(pod)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removePodIPs(p.key)
	s.pods[p.key] = p
	if s.podsByNs[p.ns] == nil {
		s.podsByNs[p.ns] = map[string]*podRec{}
	}
	s.podsByNs[p.ns][p.key] = p
	for _, ip := range p.ips {
		s.byIP[ip] = p
	}
	s.eachCandidate(p.ns, func(g *group) { s.setContribution(g, p) })
	return err
}

// DeletePod removes a pod; deleting an unknown pod does nothing.
func (s *Store) DeletePod(namespace, name string) {
	key := namespace + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pods[key] == nil {
		return
	}
	s.removePodIPs(key)
	s.eachCandidate(namespace, func(g *group) { s.dropContribution(g, key) })
	delete(s.pods, key)
	if delete(s.podsByNs[namespace], key); len(s.podsByNs[namespace]) == 0 {
		delete(s.podsByNs, namespace)
	}
}

// removePodIPs forgets the address index entries that still point at the pod named key.
func (s *Store) removePodIPs(key string) {
	if old := s.pods[key]; old != nil {
		for _, ip := range old.ips {
			if s.byIP[ip] == old {
				delete(s.byIP, ip)
			}
		}
	}
}

// eachCandidate calls fn for every group a pod of namespace ns can belong to.
func (s *Store) eachCandidate(ns string, fn func(*group)) {
	for g := range s.nsGroups[ns] {
		fn(g)
	}
	for g := range s.selGroups {
		fn(g)
	}
	for g := range s.cidrGroups {
		fn(g)
	}
}

// UpsertNamespace adds or updates a namespace's labels. Only groups whose namespace selector changes its verdict
// on this namespace are recomputed, and only for this namespace's pods.
func (s *Store) UpsertNamespace(ns *corev1.Namespace) {
	l := maps.Clone(labels.Set(ns.Labels))
	if l == nil {
		l = labels.Set{}
	}
	if _, ok := l[nameLabel]; !ok {
		l[nameLabel] = ns.Name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.relabelNamespace(ns.Name, l)
}

// DeleteNamespace forgets a namespace's labels (its pods are deleted by their own events).
func (s *Store) DeleteNamespace(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.relabelNamespace(name, nil)
}

func (s *Store) relabelNamespace(name string, l labels.Set) {
	old := s.nsLabels(name)
	if l == nil {
		delete(s.namespaces, name)
	} else {
		s.namespaces[name] = l
	}
	cur := s.nsLabels(name)
	for g := range s.selGroups {
		if g.def.sel.nsSel.Matches(old) == g.def.sel.nsSel.Matches(cur) {
			continue
		}
		for _, p := range s.podsByNs[name] {
			s.setContribution(g, p)
		}
	}
}
