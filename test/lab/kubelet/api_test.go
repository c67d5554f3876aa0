package kubelet

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeNet is a network whose readiness a test sets; other operations succeed.
type fakeNet struct{ err error }

func (f *fakeNet) Ready() error { return f.err }
func (f *fakeNet) Add(context.Context, attachment) ([]string, error) {
	return []string{"10.9.0.2"}, nil
}
func (f *fakeNet) Check(context.Context, attachment) error { return nil }
func (f *fakeNet) Del(context.Context, attachment) error   { return nil }
func (f *fakeNet) GC(context.Context, []attachment) error  { return nil }

func apiKubelet(t *testing.T, client *fake.Clientset, net network) *kubelet {
	cfg := validConfig()
	cfg.Client, cfg.StateDir = client, t.TempDir()
	if err := cfg.validate(true); err != nil {
		t.Fatal(err)
	}
	k, err := newKubelet(cfg, net, defaultTiming())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRegisterNodeCreatesThenUpdates(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "other"}})
	net := &fakeNet{err: context.DeadlineExceeded}
	k := apiKubelet(t, client, net)
	if _, err := k.registerNode(ctx); err != nil {
		t.Fatal(err)
	}
	ready, err := k.updateNodeStatus(ctx)
	if err != nil || ready {
		t.Fatalf("status with the network not ready: ready=%v err=%v", ready, err)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if n.Labels[v1.LabelHostname] != "n1" || n.Labels[v1.LabelOSStable] != "linux" || readyOf(n.Status) != v1.ConditionFalse {
		t.Fatalf("node %+v", n)
	}
	// Registering again keeps foreign labels; the network becoming ready flips Ready.
	n.Labels["extra"] = "x"
	if _, err := client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.registerNode(ctx); err != nil {
		t.Fatal(err)
	}
	net.err = nil
	if ready, err := k.updateNodeStatus(ctx); err != nil || !ready {
		t.Fatalf("ready=%v err=%v", ready, err)
	}
	n, _ = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if n.Labels["extra"] != "x" || readyOf(n.Status) != v1.ConditionTrue || n.Status.NodeInfo.KubeletVersion != KubeletVersion {
		t.Fatalf("node after update %+v", n)
	}
}

func TestLeaseCreatedThenRenewed(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	k := apiKubelet(t, client, &fakeNet{})
	uid, err := k.registerNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.renewLease(ctx, uid); err != nil {
		t.Fatal(err)
	}
	l1, err := client.CoordinationV1().Leases(leaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || *l1.Spec.HolderIdentity != "n1" || *l1.Spec.LeaseDurationSeconds != leaseDuration ||
		len(l1.OwnerReferences) != 1 || l1.OwnerReferences[0].Kind != "Node" {
		t.Fatalf("lease %+v, %v", l1, err)
	}
	if err := k.renewLease(ctx, uid); err != nil {
		t.Fatal(err)
	}
	l2, _ := client.CoordinationV1().Leases(leaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
	if l2.Spec.RenewTime.Before(l1.Spec.RenewTime) {
		t.Errorf("renew time went back")
	}
}
