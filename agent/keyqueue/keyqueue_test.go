package keyqueue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Keys from events reach sync; a failing key comes back until it succeeds; events for one key while it waits
// fold into one sync; nothing runs after ctx ends.
func TestQueueSyncsRetriesAndFolds(t *testing.T) {
	q := New("test", "thing", logrus.New())
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan string, 16)
	failOnce := true
	syncFn := func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		if key == "ns/flaky" && failOnce {
			failOnce = false
			return errors.New("not yet")
		}
		done <- key
		return nil
	}
	h := q.Handler(ObjectKey)
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	}
	// Queued before the workers start: three events for ns/a fold into one key.
	h.OnAdd(pod("a"), false)
	h.OnUpdate(pod("a"), pod("a"))
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/a", Obj: pod("a")})
	h.OnAdd(pod("flaky"), false)
	if q.Len() != 2 {
		t.Fatalf("queued %d keys, want 2 (ns/a folded)", q.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.Run(ctx, 2, syncFn)
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case k := <-done:
			got[k] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("synced %v, want ns/a and ns/flaky", got)
		}
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if calls["ns/a"] != 1 || calls["ns/flaky"] != 2 {
		t.Errorf("sync calls %v, want ns/a once and ns/flaky twice (one retry)", calls)
	}
}

func TestHandlerSkipsEmptyKeys(t *testing.T) {
	q := New("test", "thing", logrus.New())
	h := q.Handler(func(any) string { return "" })
	h.OnAdd(&corev1.Pod{}, false)
	if q.Len() != 0 {
		t.Errorf("an empty key was queued")
	}
	if ObjectKey(42) != "" {
		t.Errorf("ObjectKey of a non-object: %q", ObjectKey(42))
	}
}
