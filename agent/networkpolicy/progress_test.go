package networkpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
)

// Progress reaches every event: after each of many policy changes made through the API, the controller reports
// the new event programmed. (An event once counted after the worker's wake-up could leave it one event behind
// for good; that race is narrow, so this makes many changes rather than claim to hit it every run.)
func TestProgressReachesEveryEvent(t *testing.T) {
	cs := fake.NewClientset(namespace("x", nil))
	c, err := New(Config{NodeName: "n1"}, cs, discardStore{},
		func(string, string) (netip.Addr, uint32, bool) { return netip.Addr{}, 0, false }, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.StageAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		before, _ := c.Progress()
		np := ingressPolicy("x", fmt.Sprintf("np%d", i), map[string]string{"app": "a"}, nil, intstr.FromInt32(int32(80+i)))
		if _, err := cs.NetworkingV1().NetworkPolicies("x").Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
			events, done := c.Progress()
			if events > before && done >= events {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("change %d: %d events, %d programmed after 5 s", i, events, done)
			}
		}
	}
}
