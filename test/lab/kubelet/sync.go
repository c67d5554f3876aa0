package kubelet

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync brings one pod key (namespace/name) to what the API says: records of pods that are gone or were replaced
// are torn down; a pod being deleted is stopped, detached and finalised; any other pod is run. It returns when to
// sync the key again (0: at the next resync) or an error (retried with back-off).
func (k *kubelet) sync(ctx context.Context, key string) (time.Duration, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, fmt.Errorf("kubelet: bad pod key %q: %w", key, err)
	}
	pod, err := k.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && pod.Spec.NodeName != k.cfg.NodeName) {
		pod, err = nil, nil
	}
	if err != nil {
		return 0, err
	}
	for _, rec := range k.state.byKey(namespace, name) {
		if pod == nil || rec.UID != pod.UID {
			k.log.Infof("pod %s (uid %s) is gone; tearing it down", rec.key(), rec.UID)
			if err := k.teardown(ctx, rec, k.grace(rec.GracePeriod), false); err != nil {
				return 0, err
			}
		}
	}
	switch {
	case pod == nil:
		return 0, nil
	case pod.DeletionTimestamp != nil:
		return 0, k.finalize(ctx, pod)
	}
	return k.syncPod(ctx, pod)
}

// syncPod runs a pod that is not being deleted and reports its status.
func (k *kubelet) syncPod(ctx context.Context, pod *v1.Pod) (time.Duration, error) {
	now := time.Now()
	rec := k.state.get(pod.UID)
	if rec == nil {
		if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
			return 0, nil // it finished before this kubelet's state was lost: nothing to run
		}
		rec = newRecord(pod, k.cfg.NetnsPrefix, now)
		if err := k.state.save(rec); err != nil {
			return 0, err
		}
		k.log.Infof("pod %s: accepted (sandbox %s)", rec.key(), rec.SandboxID)
	}
	view := podView{pod: pod, rec: rec, nodeIP: k.cfg.NodeIP}
	var wake time.Duration
	sandboxReady := rec.HostNetwork || rec.NetworkReleased || rec.NetworkReady && k.isVerified(rec.UID)
	if !sandboxReady {
		if wait, lastErr := k.sandboxBackoff(rec.UID, now); wait > 0 {
			view.sandboxErr, wake = lastErr, wait
		} else if err := k.ensureSandbox(ctx, rec); err != nil {
			wake = k.sandboxFailed(rec.UID, err, now)
			view.sandboxErr = err.Error()
			k.log.WithError(err).Warnf("pod %s: sandbox (retry in %v)", rec.key(), wake)
			k.recorder.Event(pod, v1.EventTypeWarning, "FailedCreatePodSandBox", sandboxError(err))
		} else {
			k.sandboxSucceeded(rec.UID)
			sandboxReady = true
		}
	}
	var next time.Duration
	view.containers, next = k.syncContainers(pod, rec, sandboxReady)
	if next > 0 && (wake == 0 || next < wake) {
		wake = next
	}
	status := buildStatus(view, now)
	if (status.Phase == v1.PodSucceeded || status.Phase == v1.PodFailed) && rec.NetworkReady {
		if err := k.releaseNetwork(ctx, rec); err != nil {
			k.log.WithError(err).Warnf("pod %s: releasing the network of a finished pod", rec.key())
		}
	}
	if equality.Semantic.DeepEqual(status, pod.Status) {
		return wake, nil
	}
	upd := pod.DeepCopy()
	upd.Status = status
	if _, err := k.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, nil // deleted meanwhile: the informer tells us
		}
		return 0, fmt.Errorf("kubelet: updating status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return wake, nil
}

// grace bounds a termination grace period (seconds) by timing.maxGrace.
func (k *kubelet) grace(seconds int64) time.Duration {
	return min(time.Duration(max(seconds, 0))*time.Second, k.timing.maxGrace)
}
