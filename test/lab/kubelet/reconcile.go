package kubelet

import (
	"context"
	"errors"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// reconcile runs once at start, before the workers: namespaces with this kubelet's prefix that no record refers
// to are deleted, every pod key known to the state or the API is synced (pods still bound here keep their
// namespace and processes, pods gone are torn down), and CNI GC then runs in the background with the attachments
// that remain (once the network is ready).
func (k *kubelet) reconcile(ctx context.Context) {
	if err := k.removeStaleNetns(); err != nil {
		k.log.WithError(err).Warn("removing stale pod namespaces")
	}
	for _, key := range k.allKeys() {
		wake, err := k.sync(ctx, key)
		switch {
		case err != nil:
			k.log.WithError(err).Warnf("pod %s: first sync", key)
			k.queue.AddRateLimited(key)
		case wake > 0:
			k.queue.AddAfter(key, wake)
		}
	}
	go k.gcWhenReady(ctx)
}

// allKeys lists the keys of recorded pods and of pods the API binds to this node.
func (k *kubelet) allKeys() []string {
	seen := map[string]bool{}
	var keys []string
	add := func(key string) {
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	for _, r := range k.state.all() {
		add(r.key())
	}
	pods, _ := k.pods.List(labels.Everything())
	for _, p := range pods {
		if p.Spec.NodeName == k.cfg.NodeName && p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed {
			add(p.Namespace + "/" + p.Name)
		}
	}
	return keys
}

// removeStaleNetns deletes the namespaces named with the prefix that no record refers to.
func (k *kubelet) removeStaleNetns() error {
	names, err := listNetns(k.cfg.NetnsPrefix)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, r := range k.state.all() {
		known[r.Netns] = true
	}
	var errs []error
	for _, n := range names {
		if !known[n] {
			k.log.Infof("deleting network namespace %s: no pod of this node uses it", n)
			errs = append(errs, deleteNetns(n))
		}
	}
	return errors.Join(errs...)
}

// gcWhenReady waits for the network to be ready, then runs CNI GC once.
func (k *kubelet) gcWhenReady(ctx context.Context) {
	for k.net.Ready() != nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(k.timing.networkPoll):
		}
	}
	if err := k.gc(ctx); err != nil {
		k.log.WithError(err).Warn("CNI GC")
	}
}

// gc runs CNI GC listing every attached sandbox as valid. It holds netLock for writing, so no attachment is
// made or removed while the list is taken and the plugin runs.
func (k *kubelet) gc(ctx context.Context) error {
	k.netLock.Lock()
	defer k.netLock.Unlock()
	var valid []attachment
	for _, r := range k.state.all() {
		if r.NetworkReady {
			valid = append(valid, attachmentOf(r))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, k.timing.cniTimeout)
	defer cancel()
	if err := k.net.GC(ctx, valid); err != nil {
		return err
	}
	k.log.Infof("CNI GC done (%d valid attachments)", len(valid))
	return nil
}
