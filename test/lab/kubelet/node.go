package kubelet

import (
	"context"
	"fmt"
	"maps"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// registerNode creates the Node, or adds this kubelet's labels to an existing one, and returns its uid.
func (k *kubelet) registerNode(ctx context.Context) (types.UID, error) {
	nodes := k.cfg.Client.CoreV1().Nodes()
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Labels: nodeLabels(k.cfg.NodeName)}}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		return created.UID, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("kubelet: registering node %s: %w", k.cfg.NodeName, err)
	}
	var uid types.UID
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		uid = cur.UID
		want := maps.Clone(cur.Labels)
		if want == nil {
			want = map[string]string{}
		}
		maps.Copy(want, nodeLabels(k.cfg.NodeName))
		if maps.Equal(want, cur.Labels) {
			return nil
		}
		cur.Labels = want
		_, err = nodes.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("kubelet: updating node %s: %w", k.cfg.NodeName, err)
	}
	return uid, nil
}

// updateNodeStatus writes the node's status (heartbeat included) and returns whether the node is Ready.
func (k *kubelet) updateNodeStatus(ctx context.Context) (bool, error) {
	netErr := k.net.Ready()
	nodes := k.cfg.Client.CoreV1().Nodes()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := buildNodeStatus(k.cfg.NodeName, k.cfg.NodeIP, k.facts, netErr, cur.Status, time.Now())
		if equality.Semantic.DeepEqual(st, cur.Status) {
			return nil
		}
		cur.Status = st
		_, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("kubelet: updating status of node %s: %w", k.cfg.NodeName, err)
	}
	return netErr == nil, nil
}

// nodeStatusLoop updates the node's status every statusEvery, and at once when the network's readiness changes
// (checked every networkPoll).
func (k *kubelet) nodeStatusLoop(ctx context.Context, wasReady bool) {
	lastUpdate := time.Now()
	tick := time.NewTicker(k.timing.networkPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ready := k.net.Ready() == nil
		if ready == wasReady && time.Since(lastUpdate) < k.timing.statusEvery {
			continue
		}
		r, err := k.updateNodeStatus(ctx)
		if err != nil {
			k.log.WithError(err).Warn("node status")
			continue
		}
		if r != wasReady {
			k.log.Infof("node Ready=%v", r)
		}
		wasReady, lastUpdate = r, time.Now()
	}
}
