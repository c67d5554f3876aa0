package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/test/lab/kubelet"
	"github.com/switchyard-net/switchyard/test/lab/proc"
)

// PodNetns returns the network namespace of a pod given as "namespace/name" (or "name" in default): the pod's own,
// or its node's for a hostNetwork pod.
func (l *Lab) PodNetns(ctx context.Context, ref string) (string, error) {
	ns, name := "default", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	cs, err := l.Client()
	if err != nil {
		return "", err
	}
	p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if p.Spec.HostNetwork {
		for i := 1; i <= l.Options.Nodes; i++ {
			if l.Plan.NodeName(i) == p.Spec.NodeName {
				return l.Plan.NodeNS(i), nil
			}
		}
		return "", fmt.Errorf("pod %s: node %q is not a lab node", ref, p.Spec.NodeName)
	}
	for i := 1; i <= l.Options.Nodes; i++ {
		if l.Plan.NodeName(i) == p.Spec.NodeName {
			return kubelet.PodNetns(l.kubeletDir(i), p.UID)
		}
	}
	return "", fmt.Errorf("pod %s is not scheduled on a lab node (node %q, phase %s)", ref, p.Spec.NodeName, p.Status.Phase)
}

// Status describes the lab: its plan, each node's processes, and the Kubernetes view of nodes and pods.
func (l *Lab) Status(ctx context.Context) string {
	var b strings.Builder
	o := l.Options
	fmt.Fprintf(&b, "lab %q at %s: %d nodes, mode %s, tunnel %s, topology %s\n", o.Name, o.StateDir, o.Nodes, o.Mode, o.Tunnel, o.Topology)
	fmt.Fprintf(&b, "API server: https://127.0.0.1:%d (KUBECONFIG=%s)\n", l.APIPort, l.Kubeconfig())
	alive := func(dir, name string) string {
		if pid, ok := proc.Alive(dir, name); ok {
			return fmt.Sprintf("%s:%d", name, pid)
		}
		return name + ":DOWN"
	}
	for i := 1; i <= o.Nodes; i++ {
		fmt.Fprintf(&b, "  %-6s %-15s netns %-10s %s %s %s %s\n", l.Plan.NodeName(i), l.Plan.NodeIP(i), l.Plan.NodeNS(i),
			alive(l.ovsDir(i), "ovsdb-server"), alive(l.ovsDir(i), "ovs-vswitchd"), alive(l.procDir(i), "agent"), alive(l.procDir(i), "kubelet"))
	}
	cs, err := l.Client()
	if err != nil {
		fmt.Fprintf(&b, "API: %v\n", err)
		return b.String()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "API: %v\n", err)
		return b.String()
	}
	for _, n := range nodes.Items {
		ready := "NotReady"
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				ready = "Ready"
			}
		}
		fmt.Fprintf(&b, "  node %s %s podCIDR %s\n", n.Name, ready, n.Spec.PodCIDR)
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err == nil {
		fmt.Fprintf(&b, "  %d pods\n", len(pods.Items))
	}
	return b.String()
}
