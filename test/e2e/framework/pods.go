package framework

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Namespace creates a namespace with a unique name (prefix + random suffix) and labels, deleted when the test ends.
func (f *Framework) Namespace(t testing.TB, prefix string, labels map[string]string) string {
	t.Helper()
	name := prefix + "-" + randHex(3)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := f.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = f.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// PodSpec describes a test pod.
type PodSpec struct {
	Node        int               // 1-based lab node; 0 lets the scheduler choose
	Labels      map[string]string //
	TCP, UDP    []int32           // ports the built-in server answers on (ignored with Command)
	SCTP        []int32           //
	Command     []string          // run this instead of the built-in server
	HostNetwork bool
}

// CreatePod creates a pod and waits until it is Running and Ready; the pod is deleted when the test ends.
func (f *Framework) CreatePod(t testing.TB, ns, name string, s PodSpec) *corev1.Pod {
	t.Helper()
	p := f.podObject(ns, name, s)
	if _, err := f.Client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() { f.DeletePod(t, ns, name) })
	return f.WaitPodReady(t, ns, name, 2*time.Minute)
}

func (f *Framework) podObject(ns, name string, s PodSpec) *corev1.Pod {
	c := corev1.Container{Name: "main", Image: "lab/builtin-server", Command: s.Command}
	for _, port := range s.TCP {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: fmt.Sprintf("tcp-%d", port), ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	for _, port := range s.UDP {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: fmt.Sprintf("udp-%d", port), ContainerPort: port, Protocol: corev1.ProtocolUDP})
	}
	for _, port := range s.SCTP {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: fmt.Sprintf("sctp-%d", port), ContainerPort: port, Protocol: corev1.ProtocolSCTP})
	}
	grace := int64(1)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: s.Labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}, HostNetwork: s.HostNetwork,
			TerminationGracePeriodSeconds: &grace,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
	}
	if s.Node > 0 {
		p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": f.Lab.Plan.NodeName(s.Node)}
	}
	return p
}

// WaitPodReady waits for a pod to be Running with the Ready condition and returns it.
func (f *Framework) WaitPodReady(t testing.TB, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := f.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if p.Status.Phase == corev1.PodRunning && podReady(p) && p.Status.PodIP != "" {
				return p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if last == nil {
		t.Fatalf("pod %s/%s never appeared", ns, name)
	}
	t.Fatalf("pod %s/%s not ready after %v: phase %s, conditions %s", ns, name, timeout, last.Status.Phase, conditions(last))
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func conditions(p *corev1.Pod) string {
	var s []string
	for _, c := range p.Status.Conditions {
		s = append(s, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(s, ", ")
}

// DeletePod deletes a pod and waits until it is gone (the lab kubelet finalises it after CNI DEL).
func (f *Framework) DeletePod(t testing.TB, ns, name string) {
	t.Helper()
	err := f.Client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Errorf("deleting pod %s/%s: %v", ns, name, err)
		return
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := f.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("pod %s/%s still exists a minute after its deletion", ns, name)
}

// WaitNamespacesGone waits until no namespace is being deleted. Namespace deletion is asynchronous: the objects of an
// earlier test's namespace (its pods, NetworkPolicies and Services, and so their flows) may still be going away when
// the next test starts, which a test comparing a node's flows before and after an event must not take for part of
// the node's state.
func (f *Framework) WaitNamespacesGone(t testing.TB, timeout time.Duration) {
	t.Helper()
	var terminating []string
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		list, err := f.Client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing namespaces: %v", err)
		}
		terminating = terminating[:0]
		for _, ns := range list.Items {
			if ns.Status.Phase == corev1.NamespaceTerminating {
				terminating = append(terminating, ns.Name)
			}
		}
		if len(terminating) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespaces still being deleted after %v: %v", timeout, terminating)
		}
	}
}
