package proxy

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/switchyard-net/switchyard/flows"
)

// describe renders a plan compactly: one line per load balancer, then the host plan.
func describe(p Plan) string {
	var lines []string
	for _, lb := range p.LBs {
		var entries, eps []string
		for _, e := range lb.LB.Entries {
			s := fmt.Sprintf("%s:%d", e.IP, e.Port)
			if e.NeedSNAT {
				s += "(snat)"
			}
			entries = append(entries, s)
		}
		for _, e := range lb.LB.Endpoints {
			s := fmt.Sprintf("%s:%d", e.IP, e.Port)
			if e.Local {
				s += "(local)"
			}
			eps = append(eps, s)
		}
		ext := ""
		if lb.Key.External {
			ext = " external"
		}
		lines = append(lines, fmt.Sprintf("%s/%s%s affinity=%d [%s] -> [%s]", lb.Key.Port, lb.Key.Protocol, ext,
			lb.LB.AffinityTimeout, strings.Join(entries, " "), strings.Join(eps, " ")))
	}
	if h := p.Host; len(h.Reject)+len(h.RejectNodePorts)+len(h.NodePorts)+len(h.ExternalIPs) > 0 {
		line := fmt.Sprintf("host reject=%v rejectNodePorts=%v nodePorts=%v", h.Reject, h.RejectNodePorts, h.NodePorts)
		if len(h.ExternalIPs) > 0 {
			line += fmt.Sprintf(" externalIPs=%v", h.ExternalIPs)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func TestComputePlan(t *testing.T) {
	web := func(mut func(*corev1.Service)) *corev1.Service {
		s := service("default", "web", "10.96.0.20", svcPort("http", corev1.ProtocolTCP, 80))
		if mut != nil {
			mut(s)
		}
		return s
	}
	webSlice := func(eps ...ep) []*discovery.EndpointSlice {
		return []*discovery.EndpointSlice{slice("default", "web", "web-1", "http", corev1.ProtocolTCP, 8080, eps...)}
	}
	nodePort := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}
	local, remote := readyEP("10.244.1.5", testNodeName), readyEP("10.244.2.5", "node-2")
	cases := []struct {
		name string
		svc  *corev1.Service
		eps  []*discovery.EndpointSlice
		want string
	}{
		{"clusterIP", web(nil), webSlice(remote, local),
			"http/tcp affinity=0 [10.96.0.20:80] -> [10.244.1.5:8080(local) 10.244.2.5:8080]"},
		{"two protocols on one port, several ports",
			service("kube-system", "dns", "10.96.0.10", svcPort("dns", corev1.ProtocolUDP, 53), svcPort("dns-tcp", corev1.ProtocolTCP, 53), svcPort("metrics", corev1.ProtocolTCP, 9153)),
			[]*discovery.EndpointSlice{
				slice("kube-system", "dns", "a", "dns", corev1.ProtocolUDP, 5353, remote),
				slice("kube-system", "dns", "b", "dns-tcp", corev1.ProtocolTCP, 5353, remote),
				slice("kube-system", "dns", "c", "metrics", corev1.ProtocolTCP, 9153, remote)},
			"dns/udp affinity=0 [10.96.0.10:53] -> [10.244.2.5:5353]\ndns-tcp/tcp affinity=0 [10.96.0.10:53] -> [10.244.2.5:5353]\nmetrics/tcp affinity=0 [10.96.0.10:9153] -> [10.244.2.5:9153]"},
		{"no endpoints: the host rejects", web(nodePort), nil,
			"host reject=[{10.96.0.20 tcp 80}] rejectNodePorts=[{tcp 30080}] nodePorts=[]"},
		{"externalIPs without endpoints: rejected, still routed into the gateway", web(func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"192.0.2.10", "192.0.2.10", "2001:db8::1"}
		}), nil,
			"host reject=[{10.96.0.20 tcp 80} {192.0.2.10 tcp 80}] rejectNodePorts=[] nodePorts=[] externalIPs=[192.0.2.10]"},
		{"NodePort, Cluster policy: one group, SNAT on the node port", web(nodePort), webSlice(remote),
			"http/tcp affinity=0 [10.96.0.20:80 169.254.0.252:30080(snat)] -> [10.244.2.5:8080]\nhost reject=[] rejectNodePorts=[] nodePorts=[{tcp 30080}]"},
		{"NodePort, Local policy: external group of local endpoints, no SNAT", web(func(s *corev1.Service) {
			nodePort(s)
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.ExternalIPs = []string{"192.0.2.10"}
		}), webSlice(remote, local),
			"http/tcp affinity=0 [10.96.0.20:80] -> [10.244.1.5:8080(local) 10.244.2.5:8080]\nhttp/tcp external affinity=0 [192.0.2.10:80 169.254.0.252:30080] -> [10.244.1.5:8080(local)]\nhost reject=[] rejectNodePorts=[] nodePorts=[{tcp 30080}] externalIPs=[192.0.2.10]"},
		{"LoadBalancer, Local policy without local endpoint: the external group drops", web(func(s *corev1.Service) {
			nodePort(s)
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.20"}, {Hostname: "lb.example"}}
		}), webSlice(remote),
			"http/tcp affinity=0 [10.96.0.20:80] -> [10.244.2.5:8080]\nhttp/tcp external affinity=0 [192.0.2.20:80 169.254.0.252:30080] -> []\nhost reject=[] rejectNodePorts=[] nodePorts=[{tcp 30080}] externalIPs=[192.0.2.20]"},
		{"internalTrafficPolicy Local", web(func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		}), webSlice(remote, local), "http/tcp affinity=0 [10.96.0.20:80] -> [10.244.1.5:8080(local)]"},
		{"session affinity with timeout", web(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(10))}}
		}), webSlice(remote), "http/tcp affinity=10 [10.96.0.20:80] -> [10.244.2.5:8080]"},
		{"session affinity default timeout, capped longest", web(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(86400))}}
		}), webSlice(remote), "http/tcp affinity=65535 [10.96.0.20:80] -> [10.244.2.5:8080]"},
		{"terminating endpoints only when none is ready", web(nil),
			webSlice(ep{ip: "10.244.2.6", node: "node-2", serving: true, terminating: true}, remote),
			"http/tcp affinity=0 [10.96.0.20:80] -> [10.244.2.5:8080]"},
		{"serving terminating endpoints as fallback", web(nil),
			webSlice(ep{ip: "10.244.2.6", node: "node-2", serving: true, terminating: true}, ep{ip: "10.244.2.7", node: "node-2", terminating: true}),
			"http/tcp affinity=0 [10.96.0.20:80] -> [10.244.2.6:8080]"},
		{"unready endpoints are not used", web(nil), webSlice(ep{ip: "10.244.2.6", node: "node-2"}),
			"host reject=[{10.96.0.20 tcp 80}] rejectNodePorts=[] nodePorts=[]"},
		{"publishNotReadyAddresses uses unready endpoints", web(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			webSlice(ep{ip: "10.244.2.6", node: "node-2"}), "http/tcp affinity=0 [10.96.0.20:80] -> [10.244.2.6:8080]"},
		{"another proxy's Service is ignored", web(func(s *corev1.Service) {
			s.Labels = map[string]string{LabelServiceProxyName: "other"}
		}), webSlice(remote), ""},
		{"headless is ignored", web(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", nil }), webSlice(remote), ""},
		{"the headless label (empty value) is ignored", web(func(s *corev1.Service) {
			s.Labels = map[string]string{corev1.IsHeadlessService: ""}
		}), webSlice(remote), ""},
		{"another proxy's label with an empty value is ignored", web(func(s *corev1.Service) {
			s.Labels = map[string]string{LabelServiceProxyName: ""}
		}), webSlice(remote), ""},
		{"ExternalName is ignored", web(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }), webSlice(remote), ""},
		{"slices of other Services and IPv6 slices are ignored", web(nil), append(webSlice(remote),
			slice("default", "other", "o-1", "http", corev1.ProtocolTCP, 8080, local),
			func() *discovery.EndpointSlice {
				s := slice("default", "web", "web-v6", "http", corev1.ProtocolTCP, 8080, readyEP("fd00::5", testNodeName))
				s.AddressType = discovery.AddressTypeIPv6
				return s
			}()), "http/tcp affinity=0 [10.96.0.20:80] -> [10.244.2.5:8080]"},
		{"an endpoint in two slices counts once", web(nil), append(webSlice(remote), slice("default", "web", "web-2", "http", corev1.ProtocolTCP, 8080, remote)),
			"http/tcp affinity=0 [10.96.0.20:80] -> [10.244.2.5:8080]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := describe(ComputePlan(c.svc, c.eps, testNodeName)); got != c.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// Every planned load balancer is valid for the flows package.
func TestPlannedLoadBalancersAreValid(t *testing.T) {
	svcs, slices := bigCluster(20, 3)
	for i, svc := range svcs {
		for _, lb := range ComputePlan(svc, slices[i:i+1], testNodeName).LBs {
			lb.LB.ID = 1
			if err := testServiceConfig.ValidateLoadBalancer(lb.LB); err != nil {
				t.Errorf("service %s: %v", svc.Name, err)
			}
		}
	}
	_ = flows.TCP
}
