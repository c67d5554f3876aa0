package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-net/switchyard/cni/api"
)

// target is a source or destination of a trace, resolved to an address.
type target struct {
	Label string `json:"label"` // what the user typed, or the pod/Service it turned out to be
	IP    string `json:"ip"`
	Node  string `json:"node,omitempty"` // the node that runs the pod; "" when unknown or not a pod
	Kind  string `json:"kind"`           // pod, service or ip
}

// String is "x/a (10.244.0.2)" or the bare address.
func (t target) String() string {
	if t.Label == "" || t.Label == t.IP {
		return t.IP
	}
	return t.Label + " (" + t.IP + ")"
}

// splitPort splits "x/web:80" into "x/web" and 80; without ":N" the port is 0.
func splitPort(s string) (string, uint16, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0, nil
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("%q: the port after ':' must be a number 1-65535", s)
	}
	return s[:i], uint16(n), nil
}

// resolver turns "ns/pod", "svc/ns/name" and addresses into targets: through the local agent's pods, and with a
// Kubernetes client through the API (pods anywhere, Services' ClusterIPs).
type resolver struct {
	local []api.Attachment
	kube  kubernetes.Interface // nil without --kubeconfig
}

func (r *resolver) resolve(ctx context.Context, s string) (target, error) {
	if ip := net.ParseIP(s); ip != nil {
		if ip.To4() == nil {
			return target{}, fmt.Errorf("%s: only IPv4 addresses are traced", s)
		}
		return r.byIP(ctx, ip.String()), nil
	}
	for _, prefix := range []string{"svc/", "service/"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			return r.service(ctx, rest)
		}
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return target{}, fmt.Errorf("%q: want namespace/pod, svc/namespace/name or an IPv4 address", s)
	}
	for _, a := range r.local {
		if a.PodNamespace == ns && a.PodName == name {
			ip, _, _ := strings.Cut(a.IPCIDR, "/")
			return target{Label: s, IP: ip, Kind: "pod"}, nil
		}
	}
	if r.kube == nil {
		return target{}, fmt.Errorf("%s is not a pod on this node: give --kubeconfig to find pods and Services elsewhere, or an IP", s)
	}
	p, err := r.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && p.Status.PodIP == "":
		return target{}, fmt.Errorf("pod %s has no IP yet (phase %s)", s, p.Status.Phase)
	case err == nil:
		return target{Label: s, IP: p.Status.PodIP, Node: p.Spec.NodeName, Kind: "pod"}, nil
	case !apierrors.IsNotFound(err):
		return target{}, fmt.Errorf("pod %s: %w", s, err)
	}
	t, err := r.service(ctx, s)
	if err != nil {
		return target{}, fmt.Errorf("%s is neither a pod nor a Service: %w", s, err)
	}
	return t, nil
}

func (r *resolver) service(ctx context.Context, s string) (target, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || r.kube == nil {
		return target{}, fmt.Errorf("Service %q: want namespace/name, and --kubeconfig", s)
	}
	svc, err := r.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return target{}, fmt.Errorf("Service %s: %w", s, err)
	}
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip == nil || ip.To4() == nil {
		return target{}, fmt.Errorf("Service %s has no IPv4 ClusterIP (%q): headless Services are not load balanced", s, svc.Spec.ClusterIP)
	}
	return target{Label: "Service " + s, IP: svc.Spec.ClusterIP, Kind: "service"}, nil
}

// byIP names an address when it is a local pod, or with the API a pod anywhere.
func (r *resolver) byIP(ctx context.Context, ip string) target {
	t := target{Label: ip, IP: ip, Kind: "ip"}
	for _, a := range r.local {
		if strings.HasPrefix(a.IPCIDR, ip+"/") && a.PodName != "" {
			t.Label, t.Kind = a.PodNamespace+"/"+a.PodName, "pod"
			return t
		}
	}
	if r.kube == nil {
		return t
	}
	pods, err := r.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=" + ip})
	if err == nil {
		for _, p := range pods.Items {
			if !p.Spec.HostNetwork {
				t.Label, t.Node, t.Kind = p.Namespace+"/"+p.Name, p.Spec.NodeName, "pod"
				return t
			}
		}
	}
	return t
}
