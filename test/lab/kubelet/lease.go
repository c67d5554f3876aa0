package kubelet

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// leaseNamespace holds the node heartbeat Leases.
const leaseNamespace = "kube-node-lease"

// leaseDuration is the Lease's duration (real kubelets use 40 s and renew every 10 s).
const leaseDuration = 40

// renewLease creates or renews the node's Lease, owned by the Node so it goes when the Node goes.
func (k *kubelet) renewLease(ctx context.Context, nodeUID types.UID) error {
	leases := k.cfg.Client.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	cur, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: leaseNamespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: k.cfg.NodeName, UID: nodeUID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.cfg.NodeName),
				LeaseDurationSeconds: ptr.To[int32](leaseDuration), RenewTime: &now},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
	} else if err == nil {
		cur.Spec.HolderIdentity = ptr.To(k.cfg.NodeName)
		cur.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDuration)
		cur.Spec.RenewTime = &now
		_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("kubelet: renewing lease %s/%s: %w", leaseNamespace, k.cfg.NodeName, err)
	}
	return nil
}

// leaseLoop renews the Lease every leaseEvery until ctx ends.
func (k *kubelet) leaseLoop(ctx context.Context, nodeUID types.UID) {
	tick := time.NewTicker(k.timing.leaseEvery)
	defer tick.Stop()
	for {
		if err := k.renewLease(ctx, nodeUID); err != nil && ctx.Err() == nil {
			k.log.WithError(err).Warn("lease")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
