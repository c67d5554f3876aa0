package kubelet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// finalize handles a pod with a deletionTimestamp: its processes are stopped within the grace period (at most
// timing.maxGrace), it is detached and its namespace deleted, then the object is deleted with grace period 0, as
// a real kubelet does once the pod has terminated.
func (k *kubelet) finalize(ctx context.Context, pod *v1.Pod) error {
	seconds := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		seconds = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		seconds = *pod.DeletionGracePeriodSeconds
	}
	if rec := k.state.get(pod.UID); rec != nil {
		if err := k.teardown(ctx, rec, k.grace(seconds), false); err != nil {
			return err
		}
	}
	err := k.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("kubelet: deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	k.log.Infof("pod %s/%s: terminated and deleted", pod.Namespace, pod.Name)
	return nil
}

// teardown removes everything of a pod from the node: processes (SIGTERM, grace, SIGKILL), the attachment (CNI
// DEL), the namespace and the pod's state. A failed DEL stops it (the pod is retried) unless force is set, in
// which case the rest is removed anyway and the error returned.
func (k *kubelet) teardown(ctx context.Context, rec *podRecord, grace time.Duration, force bool) error {
	var errs []error
	if err := k.stopContainers(rec, grace, false); err != nil {
		if !force {
			return err
		}
		errs = append(errs, err)
	}
	if !rec.HostNetwork && !rec.NetworkReleased {
		k.netLock.RLock()
		defer k.netLock.RUnlock()
		if err := k.cniDel(ctx, attachmentOf(rec)); err != nil {
			if !force {
				return err
			}
			errs = append(errs, err)
		}
		if err := deleteNetns(rec.Netns); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if err := k.state.remove(rec.UID); err != nil {
		return errors.Join(append(errs, err)...)
	}
	k.forget(rec.UID)
	return errors.Join(errs...)
}

// Teardown removes every pod this node's kubelet runs: processes, CNI attachments (DEL), network namespaces and
// state, plus any namespace named with cfg.NetnsPrefix that no state refers to. It does not touch the API
// (cfg.Client may be nil) and carries on past failures, returning them all. The lab's `down` uses it; run it
// only while the node's kubelet is stopped.
func Teardown(ctx context.Context, cfg Config) error {
	if err := cfg.validate(false); err != nil {
		return err
	}
	k, err := newKubelet(cfg, newCNINetwork(cfg.CNIConfDir, cfg.CNIBinDir, cfg.CNICacheDir), defaultTiming())
	if err != nil {
		return err
	}
	return k.teardownAll(ctx)
}

// teardownAll tears every recorded pod down, eight at a time, then removes unreferenced namespaces.
func (k *kubelet) teardownAll(ctx context.Context) error {
	recs := k.state.all()
	errs := make([]error, len(recs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := k.teardown(ctx, rec, k.timing.maxGrace, true); err != nil {
				errs[i] = fmt.Errorf("pod %s: %w", rec.key(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, k.removeStaleNetns())...)
}
