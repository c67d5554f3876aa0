// Package nodeinfo reads this node's facts from the Kubernetes API: the pod CIDR the controller-manager
// allocated to it.
package nodeinfo

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// WaitPodCIDR returns the Node's spec.podCIDR, waiting (with backoff up to 5 s) until the node exists and has
// one. It logs why it waits.
func WaitPodCIDR(ctx context.Context, cs kubernetes.Interface, node string, log logrus.FieldLogger) (*net.IPNet, error) {
	delay := 200 * time.Millisecond
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		switch {
		case err == nil && n.Spec.PodCIDR != "":
			_, cidr, perr := net.ParseCIDR(n.Spec.PodCIDR)
			if perr != nil {
				return nil, fmt.Errorf("node %s: spec.podCIDR %q: %w", node, n.Spec.PodCIDR, perr)
			}
			return cidr, nil
		case err == nil:
			log.WithField("node", node).Info("waiting for the node's spec.podCIDR to be allocated")
		case apierrors.IsNotFound(err):
			log.WithField("node", node).Info("waiting for the Node object to be registered")
		default:
			log.WithError(err).WithField("node", node).Warn("reading the Node object")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the pod CIDR of node %s: %w", node, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 5*time.Second {
			delay *= 2
		}
	}
}
