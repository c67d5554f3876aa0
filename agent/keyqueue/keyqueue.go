// Package keyqueue is the work queue of the agent's controllers: informer events become object keys, workers
// hand each key to the controller's sync function, and a key whose sync fails comes back with back-off. A key is
// never processed by two workers at once, and events that arrive while it is queued fold into one sync.
package keyqueue

import (
	"context"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Queue holds the keys waiting for a sync.
type Queue struct {
	what string // the kind of key, for logs: "service", "node"
	q    workqueue.TypedRateLimitingInterface[string]
	log  logrus.FieldLogger
}

// New returns an empty queue named name (client-go's workqueue metrics name) whose keys are objects of kind what.
func New(name, what string, log logrus.FieldLogger) *Queue {
	return &Queue{what: what, log: log,
		q: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name})}
}

// Add queues a key.
func (q *Queue) Add(key string) { q.q.Add(key) }

// Len is the number of keys waiting.
func (q *Queue) Len() int { return q.q.Len() }

// Handler returns informer event handlers that queue keyOf(obj) for every add, update (the new object) and delete;
// keyOf returns "" for objects that concern no key. Deleted objects may come as cache.DeletedFinalStateUnknown.
func (q *Queue) Handler(keyOf func(obj any) string) cache.ResourceEventHandlerFuncs {
	add := func(obj any) {
		if key := keyOf(obj); key != "" {
			q.q.Add(key)
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, n any) { add(n) }, DeleteFunc: add}
}

// ObjectKey is the object's own key, "namespace/name" or "name", tombstones included; "" if it has none.
func ObjectKey(obj any) string {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return ""
	}
	return key
}

// Run starts workers that sync keys until ctx ends (then the queue shuts down). A failed sync is logged and its
// key retried with back-off; a sync that failed because ctx ended is not retried.
func (q *Queue) Run(ctx context.Context, workers int, sync func(ctx context.Context, key string) error) {
	go func() {
		<-ctx.Done()
		q.q.ShutDown()
	}()
	for range workers {
		go q.work(ctx, sync)
	}
}

func (q *Queue) work(ctx context.Context, sync func(context.Context, string) error) {
	for {
		key, shutdown := q.q.Get()
		if shutdown {
			return
		}
		err := sync(ctx, key)
		switch {
		case err == nil:
			q.q.Forget(key)
		case ctx.Err() != nil:
		default:
			q.log.WithError(err).WithField(q.what, key).Warnf("syncing %s failed; retrying", q.what)
			q.q.AddRateLimited(key)
		}
		q.q.Done(key)
	}
}
