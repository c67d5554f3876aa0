package proxy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const testNodeName = "node-1"

// service returns a ClusterIP Service with the given ports ("name/PROTO/port").
func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP},
			Ports: ports},
	}
}

func svcPort(name string, proto corev1.Protocol, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: port}
}

// ep is an endpoint of a slice: address, node and conditions.
type ep struct {
	ip          string
	node        string
	ready       bool
	serving     bool
	terminating bool
}

func readyEP(ip, node string) ep { return ep{ip: ip, node: node, ready: true, serving: true} }

// slice returns an IPv4 EndpointSlice of Service ns/svc with one port (name/proto/port) and endpoints.
func slice(ns, svc, name string, portName string, proto corev1.Protocol, port int32, eps ...ep) *discovery.EndpointSlice {
	s := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discovery.LabelServiceName: svc}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: ptr.To(portName), Protocol: ptr.To(proto), Port: ptr.To(port)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discovery.Endpoint{Addresses: []string{e.ip}, NodeName: ptr.To(e.node),
			Conditions: discovery.EndpointConditions{Ready: ptr.To(e.ready), Serving: ptr.To(e.serving), Terminating: ptr.To(e.terminating)}})
	}
	return s
}

// bigCluster returns n Services, each with one TCP port and m endpoints spread over 100 nodes.
func bigCluster(n, m int) ([]*corev1.Service, []*discovery.EndpointSlice) {
	var svcs []*corev1.Service
	var slices []*discovery.EndpointSlice
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%d", i)
		svcs = append(svcs, service("bench", name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), svcPort("http", corev1.ProtocolTCP, 80)))
		var eps []ep
		for j := 0; j < m; j++ {
			k := i*m + j
			eps = append(eps, readyEP(fmt.Sprintf("10.%d.%d.%d", 100+k/65536, k/256%256, k%256), fmt.Sprintf("node-%d", k%100)))
		}
		slices = append(slices, slice("bench", name, name+"-abc", "http", corev1.ProtocolTCP, 8080, eps...))
	}
	return svcs, slices
}
