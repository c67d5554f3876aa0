package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard-net/switchyard/test/lab/cluster"
	"github.com/switchyard-net/switchyard/test/lab/workload"
)

const tourNS = "tour"

func tourCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tour",
		Short: "A short guided tour of a running lab: pods on different nodes reaching each other",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			return tour(cmd.Context(), l)
		},
	}
}

func tour(ctx context.Context, l *cluster.Lab) error {
	cs, err := l.Client()
	if err != nil {
		return err
	}
	self := os.Args[0]
	if stateDir != defaultState() {
		self += " --state " + stateDir
	}
	fmt.Printf("\n== Tour of the lab (%d nodes, %s mode)\n\n", l.Options.Nodes, l.Options.Mode)
	fmt.Printf("1. Every node is a network namespace with its own Open vSwitch and switchyard-agent:\n   $ %s status\n\n", self)
	fmt.Print(indent(l.Status(ctx)))

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tourNS}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	last := l.Options.Nodes
	pods := []struct {
		name string
		node int
	}{{"client", 1}, {"web-near", 1}, {"web-far", last}}
	fmt.Printf("\n2. Three pods in namespace %q: client and web-near on %s, web-far on %s. Pods without a command\n", tourNS, l.Plan.NodeName(1), l.Plan.NodeName(last))
	fmt.Printf("   run the lab's built-in server, which answers every connection with the pod's name.\n")
	ips := map[string]string{}
	for _, p := range pods {
		ip, err := tourPod(ctx, cs, p.name, l.Plan.NodeName(p.node))
		if err != nil {
			return err
		}
		ips[p.name] = ip
		fmt.Printf("   %-9s %-12s on %s\n", p.name, ip, l.Plan.NodeName(p.node))
	}
	fmt.Printf("   $ %s kubectl -n %s get pods -o wide\n", self, tourNS)

	fmt.Printf("\n3. The client reaches both servers through br-int (same node) and across nodes:\n")
	netns, err := l.PodNetns(ctx, tourNS+"/client")
	if err != nil {
		return err
	}
	for _, target := range []string{"web-near", "web-far"} {
		addr := ips[target] + ":8080"
		reply, outcome, err := workload.Probe(ctx, "/run/netns/"+netns, addr, "tcp", 2*time.Second)
		if err != nil {
			return err
		}
		result := reply
		if outcome != workload.Connected {
			result = outcome.String()
		}
		fmt.Printf("   $ %s probe %s/client %s\n   %s\n", self, tourNS, addr, result)
	}
	fmt.Printf("\n4. Look inside a pod, and at the flows that serve it:\n")
	fmt.Printf("   $ %s exec %s/client -- ip addr show eth0\n", self, tourNS)
	fmt.Printf("   $ OVS_RUNDIR=%s/nodes/%s/ovs ovs-ofctl -O OpenFlow15 --names dump-flows br-int\n", stateDir, l.Plan.NodeName(1))
	fmt.Printf("\nClean up the tour with: %s kubectl delete namespace %s\n", self, tourNS)
	fmt.Printf("Use kubectl:            %s kubectl get pods -A -o wide   (or KUBECONFIG=%s)\n", self, l.Kubeconfig())
	fmt.Printf("Tear the lab down:      %s down\n", self)
	return nil
}

func tourPod(ctx context.Context, cs kubernetes.Interface, name, node string) (string, error) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tourNS, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{"kubernetes.io/hostname": node},
			Containers: []corev1.Container{{Name: "server", Image: "lab/builtin-server",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	if _, err := cs.CoreV1().Pods(tourNS).Create(ctx, p, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		got, err := cs.CoreV1().Pods(tourNS).Get(ctx, name, metav1.GetOptions{})
		if err == nil && got.Status.Phase == corev1.PodRunning && got.Status.PodIP != "" {
			for _, c := range got.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return got.Status.PodIP, nil
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	return "", fmt.Errorf("pod %s/%s not ready after 90s (%s kubectl -n %s describe pod %s)", tourNS, name, "switchyard-lab", tourNS, name)
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("   " + line + "\n")
	}
	return b.String()
}
