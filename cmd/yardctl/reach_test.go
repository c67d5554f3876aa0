package main

import (
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/cni/api"
)

func TestRemoteEndpoint(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node2"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "node2"}, {Type: corev1.NodeInternalIP, Address: "fd00::2"},
		{Type: corev1.NodeInternalIP, Address: "192.168.77.12"}}}}
	lease := func(port, sum string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node2", Namespace: api.RemoteAPINamespace,
			Annotations: map[string]string{api.AnnotationRemotePort: port, api.AnnotationRemoteSHA256: sum}}}
	}
	base, got, err := remoteEndpoint(node, lease("10351", strings.ToUpper(sum)))
	if err != nil || base != "https://192.168.77.12:10351" || got != sum {
		t.Errorf("got %q %q %v", base, got, err)
	}
	for _, bad := range []*coordinationv1.Lease{lease("", sum), lease("70000", sum), lease("10351", "abc"), lease("x", sum)} {
		if _, _, err := remoteEndpoint(node, bad); err == nil || !strings.Contains(err.Error(), "Lease "+api.RemoteAPINamespace+"/node2") {
			t.Errorf("%v: want an error naming the Lease, got %v", bad.Annotations, err)
		}
	}
	noIP := node.DeepCopy()
	noIP.Status.Addresses = noIP.Status.Addresses[:2]
	if _, _, err := remoteEndpoint(noIP, lease("10351", sum)); err == nil || !strings.Contains(err.Error(), "no IPv4 InternalIP") {
		t.Errorf("a node without an IPv4 InternalIP: %v", err)
	}
}
