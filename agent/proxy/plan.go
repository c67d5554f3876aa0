// Package proxy is Switchyard's Service proxy (kube-proxy replacement): it watches Services and
// EndpointSlices and keeps, per Service, the load balancers of the OVS pipeline (flows.ServiceFlows,
// owner {flows.Service, "namespace/name"}) and the host's nftables rules for what OVS cannot do
// (NodePort redirection into the gateway, rejecting Services without endpoints). docs/services.md
// describes the design.
package proxy

import (
	"net"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"

	"github.com/switchyard-net/switchyard/flows"
)

// LabelServiceProxyName names the proxy that serves a Service; Services naming any proxy are not ours.
const LabelServiceProxyName = "service.kubernetes.io/service-proxy-name"

// defaultAffinityTimeout is Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds.
const defaultAffinityTimeout = 10800

// lbKey identifies a load balancer of a Service; its group id is allocated per key and stays the
// same while the key exists.
type lbKey struct {
	Port     string // the Service port's name
	Protocol flows.Protocol
	External bool // the external entry points' own load balancer (its endpoints differ from the internal one's)
}

// plannedLB is a load balancer without its group id.
type plannedLB struct {
	Key lbKey
	LB  flows.LoadBalancer
}

// HostEntry is a Service address (IP, protocol, port) the host handles.
type HostEntry struct {
	IP       string
	Protocol flows.Protocol
	Port     uint16
}

// NodePort is a node port the host redirects.
type NodePort struct {
	Protocol flows.Protocol
	Port     uint16
}

// HostPlan is what one Service needs from the host's nftables.
type HostPlan struct {
	// Reject are the entry points without any endpoint: connections are refused at once.
	Reject []HostEntry
	// RejectNodePorts are the node ports of ports without any endpoint.
	RejectNodePorts []NodePort
	// NodePorts are redirected to flows.VirtualNodePortIP, into OVS.
	NodePorts []NodePort
	// ExternalIPs are the externalIPs and load balancer ingress IPs: the host routes them into the
	// gateway (with or without endpoints: without, the forward hook rejects them).
	ExternalIPs []string
}

// Plan is what one Service needs: its load balancers and its host rules.
type Plan struct {
	LBs  []plannedLB
	Host HostPlan
}

// Ignored says why this proxy does not serve svc ("" if it does): another proxy serves it, it is
// headless or an ExternalName.
func Ignored(svc *corev1.Service) string {
	// Both labels count by their presence, as kube-proxy's label selectors do (the headless
	// label's value is normally empty).
	proxyName, otherProxy := svc.Labels[LabelServiceProxyName]
	_, headlessLabel := svc.Labels[corev1.IsHeadlessService]
	switch {
	case otherProxy:
		return "served by proxy " + proxyName
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return "ExternalName"
	case svc.Spec.ClusterIP == corev1.ClusterIPNone || headlessLabel:
		return "headless"
	}
	return ""
}

// endpoint is one endpoint of a Service port with its conditions.
type endpoint struct {
	ep                        flows.ServiceEndpoint
	ready, servingTerminating bool
	local                     bool
}

// ComputePlan returns the plan of svc on node from its EndpointSlices (those labelled with its
// name; others are ignored). An ignored Service has an empty plan.
func ComputePlan(svc *corev1.Service, eps []*discovery.EndpointSlice, node string) Plan {
	var plan Plan
	if Ignored(svc) != "" {
		return plan
	}
	affinity := uint32(0)
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = uint32(*c.ClientIP.TimeoutSeconds)
		}
		affinity = min(max(affinity, 1), flows.MaxAffinityTimeout)
	}
	internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	externalLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	for _, port := range svc.Spec.Ports {
		proto := protocolOf(port.Protocol)
		if proto == "" || port.Port <= 0 || port.Port > 65535 {
			continue
		}
		all := portEndpoints(svc, eps, port, node)
		cluster := usable(all, false)
		local := usable(all, true)
		internal, external := cluster, cluster
		if internalLocal {
			internal = local
		}
		if externalLocal {
			external = local
		}
		var internalEntries, externalEntries []flows.ServiceEntry
		for _, ip := range clusterIPs(svc) {
			internalEntries = append(internalEntries, flows.ServiceEntry{IP: ip, Port: uint16(port.Port)})
		}
		for _, ip := range externalAddresses(svc) {
			if !slices.Contains(plan.Host.ExternalIPs, ip.String()) {
				plan.Host.ExternalIPs = append(plan.Host.ExternalIPs, ip.String())
			}
			externalEntries = append(externalEntries, flows.ServiceEntry{IP: ip, Port: uint16(port.Port), NeedSNAT: !externalLocal})
		}
		hasNodePort := port.NodePort > 0 && port.NodePort <= 65535 &&
			(svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer)
		if hasNodePort {
			externalEntries = append(externalEntries, flows.ServiceEntry{IP: flows.VirtualNodePortIP, Port: uint16(port.NodePort), NeedSNAT: !externalLocal})
		}

		if len(cluster) == 0 {
			// No endpoint anywhere: the host refuses the connection (docs/services.md).
			for _, e := range append(internalEntries, externalEntries...) {
				if !e.IP.Equal(flows.VirtualNodePortIP) {
					plan.Host.Reject = append(plan.Host.Reject, HostEntry{IP: e.IP.String(), Protocol: proto, Port: e.Port})
				}
			}
			if hasNodePort {
				plan.Host.RejectNodePorts = append(plan.Host.RejectNodePorts, NodePort{Protocol: proto, Port: uint16(port.NodePort)})
			}
			continue
		}
		if hasNodePort {
			plan.Host.NodePorts = append(plan.Host.NodePorts, NodePort{Protocol: proto, Port: uint16(port.NodePort)})
		}
		mk := func(external bool, entries []flows.ServiceEntry, eps []flows.ServiceEndpoint) plannedLB {
			return plannedLB{Key: lbKey{Port: port.Name, Protocol: proto, External: external},
				LB: flows.LoadBalancer{Protocol: proto, Entries: entries, Endpoints: eps, AffinityTimeout: affinity}}
		}
		switch {
		case len(externalEntries) == 0:
			plan.LBs = append(plan.LBs, mk(false, internalEntries, internal))
		case sameEndpoints(internal, external):
			plan.LBs = append(plan.LBs, mk(false, append(internalEntries, externalEntries...), internal))
		default:
			plan.LBs = append(plan.LBs, mk(false, internalEntries, internal), mk(true, externalEntries, external))
		}
	}
	return plan
}

func protocolOf(p corev1.Protocol) flows.Protocol {
	switch p {
	case corev1.ProtocolTCP, "":
		return flows.TCP
	case corev1.ProtocolUDP:
		return flows.UDP
	case corev1.ProtocolSCTP:
		return flows.SCTP
	}
	return ""
}

// clusterIPs are the Service's IPv4 cluster IPs.
func clusterIPs(svc *corev1.Service) []net.IP {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	return ipv4s(ips)
}

// externalAddresses are the Service's IPv4 externalIPs and load balancer ingress IPs.
func externalAddresses(svc *corev1.Service) []net.IP {
	addrs := slices.Clone(svc.Spec.ExternalIPs)
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" && (in.IPMode == nil || *in.IPMode == corev1.LoadBalancerIPModeVIP) {
				addrs = append(addrs, in.IP)
			}
		}
	}
	return ipv4s(addrs)
}

func ipv4s(texts []string) []net.IP {
	var out []net.IP
	seen := map[string]bool{}
	for _, s := range texts {
		if ip := net.ParseIP(s).To4(); ip != nil && !seen[ip.String()] {
			seen[ip.String()] = true
			out = append(out, ip)
		}
	}
	return out
}

// portEndpoints collects the IPv4 endpoints of one Service port from the Service's slices,
// without duplicates, sorted by address and port.
func portEndpoints(svc *corev1.Service, eps []*discovery.EndpointSlice, port corev1.ServicePort, node string) []endpoint {
	byAddr := map[string]endpoint{}
	for _, s := range eps {
		if s.AddressType != discovery.AddressTypeIPv4 || s.Namespace != svc.Namespace || s.Labels[discovery.LabelServiceName] != svc.Name {
			continue
		}
		var target int32
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			if name == port.Name && proto == port.Protocol && p.Port != nil {
				target = *p.Port
			}
		}
		if target <= 0 || target > 65535 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip := net.ParseIP(e.Addresses[0]).To4()
			if ip == nil {
				continue
			}
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready || svc.Spec.PublishNotReadyAddresses
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			local := e.NodeName != nil && *e.NodeName == node
			ep := endpoint{ep: flows.ServiceEndpoint{IP: ip, Port: uint16(target), Local: local},
				ready: ready && !terminating, servingTerminating: serving && terminating, local: local}
			key := net.JoinHostPort(ip.String(), strconv.Itoa(int(target)))
			if old, dup := byAddr[key]; !dup || (!old.ready && ep.ready) {
				byAddr[key] = ep
			}
		}
	}
	out := make([]endpoint, 0, len(byAddr))
	for _, e := range byAddr {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].ep, out[j].ep
		if c := slices.Compare(a.IP.To4(), b.IP.To4()); c != 0 {
			return c < 0
		}
		return a.Port < b.Port
	})
	return out
}

// usable picks the endpoints that serve (only this node's if localOnly): the ready ones, or if
// there is none, the serving terminating ones (as kube-proxy does).
func usable(all []endpoint, localOnly bool) []flows.ServiceEndpoint {
	var ready, terminating []flows.ServiceEndpoint
	for _, e := range all {
		if localOnly && !e.local {
			continue
		}
		switch {
		case e.ready:
			ready = append(ready, e.ep)
		case e.servingTerminating:
			terminating = append(terminating, e.ep)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

func sameEndpoints(a, b []flows.ServiceEndpoint) bool {
	return slices.EqualFunc(a, b, func(x, y flows.ServiceEndpoint) bool {
		return x.IP.Equal(y.IP) && x.Port == y.Port && x.Local == y.Local
	})
}
