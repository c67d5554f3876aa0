package networkpolicy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
	"github.com/switchyard-net/switchyard/test/nettest"
)

// testNode is node 1 of the tests: pod CIDR 10.244.1.0/24, gateway on port 2.
var testNode = flows.NodeConfig{GatewayOFPort: 2, GatewayMAC: net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x01},
	GatewayIP: net.IPv4(10, 244, 1, 1).To4(), PodCIDR: &net.IPNet{IP: net.IPv4(10, 244, 1, 0).To4(), Mask: net.CIDRMask(24, 32)},
	CTZone: flows.DefaultCTZone}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	l := map[string]string{"kubernetes.io/metadata.name": name}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

// pod is a running pod with an address and container ports named serve-<port>-<proto>.
func pod(ns, name, node, ip string, labels map[string]string, tcpPorts ...int32) *corev1.Pod {
	c := corev1.Container{Name: "main"}
	for _, p := range tcpPorts {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-tcp", p), ContainerPort: p, Protocol: corev1.ProtocolTCP})
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{c}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
}

// ingressPolicy selects pods by labels and allows ingress from peers on ports (none: any).
func ingressPolicy(ns, name string, sel map[string]string, peers []networkingv1.NetworkPolicyPeer, ports ...intstr.IntOrString) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: peers, Ports: npPorts(ports)}}}}
}

// egressPolicy selects pods by labels and allows egress to peers on ports (none: any).
func egressPolicy(ns, name string, sel map[string]string, peers []networkingv1.NetworkPolicyPeer, ports ...intstr.IntOrString) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: peers, Ports: npPorts(ports)}}}}
}

func npPorts(ports []intstr.IntOrString) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for i := range ports {
		tcp := corev1.ProtocolTCP
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &ports[i]})
	}
	return out
}

func podPeer(labels map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: labels}}
}

func nsPeer(labels map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: labels}}
}

// nullSwitch accepts every bundle and counts them: the flows.Store above it holds the desired state.
type nullSwitch struct{ bundles, mods int }

func (s *nullSwitch) Bundle(_ context.Context, mods []openflow.Mod) error {
	s.bundles++
	s.mods += len(mods)
	return nil
}
func (s *nullSwitch) DumpFlows(context.Context) ([]openflow.Flow, error)   { return nil, nil }
func (s *nullSwitch) DumpGroups(context.Context) ([]openflow.Group, error) { return nil, nil }
func (s *nullSwitch) DeleteFlows(context.Context, uint64, uint64) error    { return nil }

// testBridge starts a private OVS in a new namespace with br-int (netdev, OpenFlow 1.5, fail_mode secure) and
// internal ports as given (name -> ofport). Everything is removed when the test ends.
func testBridge(tb testing.TB, ports map[string]int) (*openflow.Client, *privateovs.OVS) {
	tb.Helper()
	nettest.RequireOVS(tb)
	ns := nettest.NewNetns(tb, "np")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := privateovs.Start(ctx, privateovs.Options{Netns: ns})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := o.Stop(); err != nil {
			tb.Errorf("stop private OVS: %v", err)
		}
	})
	args := []string{"add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev", "protocols=OpenFlow15", "fail_mode=secure"}
	for name, port := range ports {
		args = append(args, "--", "add-port", "br-int", name, "--", "set", "interface", name, "type=internal", fmt.Sprintf("ofport_request=%d", port))
	}
	if err := o.Vsctl(ctx, args...); err != nil {
		tb.Fatal(err)
	}
	return openflow.New(openflow.Config{Bridge: "br-int", RunDir: o.RunDir, VswitchdCtl: o.VswitchdCtl()}), o
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
