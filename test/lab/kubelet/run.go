package kubelet

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// workers is how many pods are synced at once.
const workers = 4

// Run registers the node and runs the pods bound to it until ctx ends. On the way out it stops watching and
// leaves every pod running (a kubelet restart is not a node drain); a later Run picks them up again.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(true); err != nil {
		return err
	}
	k, err := newKubelet(cfg, newCNINetwork(cfg.CNIConfDir, cfg.CNIBinDir, cfg.CNICacheDir), defaultTiming())
	if err != nil {
		return err
	}
	return k.run(ctx)
}

// run is Run after the configuration is checked.
func (k *kubelet) run(ctx context.Context) error {
	nodeUID, err := k.registerWithRetry(ctx)
	if err != nil {
		return err
	}
	ready, err := k.updateNodeStatus(ctx)
	if err != nil {
		k.log.WithError(err).Warn("first node status")
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.cfg.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})

	k.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "lab-kubelet-" + k.cfg.NodeName})
	defer k.queue.ShutDown()

	factory := informers.NewSharedInformerFactoryWithOptions(k.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + k.cfg.NodeName }))
	podInformer := factory.Core().V1().Pods()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.enqueue,
		UpdateFunc: func(_, obj any) { k.enqueue(obj) },
		DeleteFunc: k.enqueue,
	}); err != nil {
		return fmt.Errorf("kubelet: watching pods: %w", err)
	}
	k.pods = podInformer.Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		return nil // ctx ended first
	}

	var wg sync.WaitGroup
	wg.Go(func() { k.leaseLoop(ctx, nodeUID) })
	wg.Go(func() { k.nodeStatusLoop(ctx, ready) })
	k.reconcile(ctx)
	for range workers {
		wg.Go(func() {
			for k.processNext(ctx) {
			}
		})
	}
	wg.Go(func() { k.resyncLoop(ctx) })
	k.log.Info("kubelet running")
	<-ctx.Done()
	k.queue.ShutDown()
	wg.Wait()
	k.log.Info("kubelet stopped; pods left running")
	return nil
}

// registerWithRetry registers the node, retrying every 2 s while the API server is not reachable yet.
func (k *kubelet) registerWithRetry(ctx context.Context) (types.UID, error) {
	for {
		uid, err := k.registerNode(ctx)
		if err == nil {
			return uid, nil
		}
		k.log.WithError(err).Warn("registering the node; retrying")
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("kubelet: giving up registering node %s: %w", k.cfg.NodeName, err)
		case <-time.After(2 * time.Second):
		}
	}
}

// enqueue adds a pod's key (deleted pods included) to the queue.
func (k *kubelet) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		k.log.WithError(err).Warn("pod event without a key")
		return
	}
	k.queue.Add(key)
}

// processNext syncs one key; false once the queue is shut down.
func (k *kubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	wake, err := k.sync(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			k.log.WithError(err).Warnf("pod %s", key)
		}
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	if wake > 0 {
		k.queue.AddAfter(key, wake)
	}
	return true
}

// resyncLoop queues every pod this kubelet runs or should run every timing.resync, so process exits and ready
// files show in the pods' status.
func (k *kubelet) resyncLoop(ctx context.Context) {
	tick := time.NewTicker(k.timing.resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, r := range k.state.all() {
			k.queue.Add(r.key())
		}
		pods, _ := k.pods.List(labels.Everything())
		for _, p := range pods {
			if p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed {
				k.queue.Add(p.Namespace + "/" + p.Name)
			}
		}
	}
}
