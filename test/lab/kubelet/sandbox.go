package kubelet

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// cniAdd, cniCheck and cniDel bound a CNI operation in time. Callers hold netLock for reading from before the
// operation until the record says what it did (see kubelet.netLock).
func (k *kubelet) cniAdd(ctx context.Context, a attachment) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timing.cniTimeout)
	defer cancel()
	return k.net.Add(ctx, a)
}

func (k *kubelet) cniCheck(ctx context.Context, a attachment) error {
	ctx, cancel := context.WithTimeout(ctx, k.timing.cniTimeout)
	defer cancel()
	return k.net.Check(ctx, a)
}

func (k *kubelet) cniDel(ctx context.Context, a attachment) error {
	ctx, cancel := context.WithTimeout(ctx, k.timing.cniTimeout)
	defer cancel()
	return k.net.Del(ctx, a)
}

// ensureSandbox makes sure the pod's namespace exists and is attached, updating and saving rec. A sandbox
// attached before this kubelet started is checked once (CNI CHECK): kept when it passes, attached again in the
// same namespace when it does not, and rebuilt from scratch when the namespace is gone.
func (k *kubelet) ensureSandbox(ctx context.Context, rec *podRecord) error {
	k.netLock.RLock()
	defer k.netLock.RUnlock()
	if rec.NetworkReady {
		if k.isVerified(rec.UID) {
			return nil
		}
		if netnsExists(rec.Netns) {
			err := k.cniCheck(ctx, attachmentOf(rec))
			if err == nil {
				k.setVerified(rec.UID, true)
				return nil
			}
			k.log.WithError(err).Infof("pod %s: sandbox check failed; attaching again", rec.key())
			if ips, err := k.reattach(ctx, rec); err == nil {
				rec.IPs = ips
				k.setVerified(rec.UID, true)
				return k.state.save(rec)
			}
		}
		rec.NetworkReady = false
		if err := k.state.save(rec); err != nil {
			return err
		}
	}
	return k.createSandbox(ctx, rec)
}

// reattach runs DEL then ADD in the pod's existing namespace: its processes keep running.
func (k *kubelet) reattach(ctx context.Context, rec *podRecord) ([]string, error) {
	a := attachmentOf(rec)
	if err := k.cniDel(ctx, a); err != nil {
		return nil, err
	}
	return k.cniAdd(ctx, a)
}

// createSandbox builds the pod's namespace afresh and attaches it. Processes left in an earlier namespace of the
// pod are stopped and their files removed (they start again in the new one). Whatever a failed attempt made is
// undone (CNI DEL, then the namespace deleted) before the error is returned.
func (k *kubelet) createSandbox(ctx context.Context, rec *podRecord) error {
	if err := k.stopContainers(rec, 0, true); err != nil {
		return err
	}
	if err := k.cniDel(ctx, attachmentOf(rec)); err != nil {
		k.log.WithError(err).Debugf("pod %s: DEL before ADD", rec.key())
	}
	if err := deleteNetns(rec.Netns); err != nil {
		return err
	}
	if err := createNetns(rec.Netns); err != nil {
		return err
	}
	a := attachmentOf(rec)
	ips, err := k.cniAdd(ctx, a)
	if err != nil {
		if derr := k.cniDel(ctx, a); derr != nil {
			k.log.WithError(derr).Warnf("pod %s: DEL after a failed ADD", rec.key())
		}
		if nerr := deleteNetns(rec.Netns); nerr != nil {
			k.log.WithError(nerr).Warnf("pod %s: deleting the namespace after a failed ADD", rec.key())
		}
		return err
	}
	rec.NetworkReady, rec.IPs = true, ips
	if err := k.state.save(rec); err != nil {
		return err
	}
	k.setVerified(rec.UID, true)
	return nil
}

// releaseNetwork detaches a finished pod and deletes its namespace; the record keeps its IPs for the status.
func (k *kubelet) releaseNetwork(ctx context.Context, rec *podRecord) error {
	k.netLock.RLock()
	defer k.netLock.RUnlock()
	if err := k.cniDel(ctx, attachmentOf(rec)); err != nil {
		return err
	}
	if err := deleteNetns(rec.Netns); err != nil {
		return err
	}
	rec.NetworkReady, rec.NetworkReleased = false, true
	return k.state.save(rec)
}

// sandboxBackoff says whether the pod's sandbox should not be tried yet, with the last error and the wait left.
func (k *kubelet) sandboxBackoff(uid types.UID, now time.Time) (wait time.Duration, lastErr string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.retries[uid]; r != nil && now.Before(r.next) {
		return r.next.Sub(now), r.err
	}
	return 0, ""
}

// sandboxFailed records a failure and returns the wait before the next attempt (doubling up to retryMax).
func (k *kubelet) sandboxFailed(uid types.UID, err error, now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.retries[uid]
	if r == nil {
		r = &sandboxRetry{}
		k.retries[uid] = r
	}
	wait := k.timing.retryBase << min(r.failures, 16)
	wait = min(wait, k.timing.retryMax)
	r.failures++
	r.next, r.err = now.Add(wait), err.Error()
	return wait
}

func (k *kubelet) sandboxSucceeded(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.retries, uid)
}

// sandboxError wraps a sandbox failure for the pod's events.
func sandboxError(err error) string {
	return fmt.Sprintf("Failed to create pod sandbox: %v", err)
}
