package nodeinfo

import (
	"context"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestWaitPodCIDRWaitsForAllocation(t *testing.T) {
	cs := fake.NewSimpleClientset()
	log := logrus.New()
	log.SetLevel(logrus.ErrorLevel)
	go func() {
		time.Sleep(300 * time.Millisecond)
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		n, _ = cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{})
		time.Sleep(300 * time.Millisecond)
		n.Spec.PodCIDR = "10.244.3.0/24"
		_, _ = cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cidr, err := WaitPodCIDR(ctx, cs, "n1", log)
	if err != nil {
		t.Fatal(err)
	}
	if cidr.String() != "10.244.3.0/24" {
		t.Errorf("got %s", cidr)
	}
}

func TestWaitPodCIDRGivesUpWithTheContext(t *testing.T) {
	cs := fake.NewSimpleClientset()
	log := logrus.New()
	log.SetLevel(logrus.ErrorLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := WaitPodCIDR(ctx, cs, "missing", log); err == nil {
		t.Fatal("want an error when the node never gets a pod CIDR")
	}
}
