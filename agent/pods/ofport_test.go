package pods

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// usedPorts is the part of Ports that reserveOfport reads; the rest is not called.
type usedPorts struct {
	Ports
	used map[int32]bool
}

func (u usedPorts) OfportsInUse(string) map[int32]bool {
	out := map[int32]bool{}
	for n := range u.used {
		out[n] = true
	}
	return out
}

// The number picked is the lowest that no port has or requested, no pod holds and no ADD in flight picked; it is
// free again once unreserved.
func TestReserveOfportPicksTheLowestFreeNumber(t *testing.T) {
	m := NewManager(Settings{Bridge: "br-int"}, nil, usedPorts{used: map[int32]bool{1: true, 2: true, 3: true, 5: true}}, nil, logrus.New())
	m.pods[Key{ContainerID: "a", IfName: "eth0"}] = &Pod{OFPort: 4}
	got, err := m.reserveOfport()
	if err != nil || got != 6 {
		t.Fatalf("first pick %d, %v; want 6", got, err)
	}
	if again, _ := m.reserveOfport(); again != 7 {
		t.Fatalf("second pick while 6 is reserved: %d, want 7", again)
	}
	m.unreserveOfport(6)
	if again, _ := m.reserveOfport(); again != 6 {
		t.Fatalf("pick after 6 was unreserved: %d, want 6", again)
	}
}

// Concurrent ADDs never pick the same number.
func TestConcurrentReservationsAreDistinct(t *testing.T) {
	m := NewManager(Settings{Bridge: "br-int"}, nil, usedPorts{used: map[int32]bool{2: true}}, nil, logrus.New())
	var mu sync.Mutex
	seen := map[int32]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := m.reserveOfport()
			mu.Lock()
			defer mu.Unlock()
			if err != nil || seen[n] || n < firstPodOfport || n == 2 {
				t.Errorf("picked %d (%v); seen before: %v", n, err, seen[n])
			}
			seen[n] = true
		}()
	}
	wg.Wait()
}

// dbOfport is the part of Ports that waitOfport reads: OVSDB's answer after a delay, or when ctx ends.
type dbOfport struct {
	Ports
	after  time.Duration
	ofport int32
	err    error
}

func (d dbOfport) WaitOfport(ctx context.Context, _ string) (int32, error) {
	select {
	case <-time.After(d.after):
		return d.ofport, d.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// waitOfport takes whichever comes first: the switch's report of the added port, or OVSDB's number or error.
func TestWaitOfportTakesTheFirstAnswer(t *testing.T) {
	slowDB := NewManager(Settings{OfportTimeout: 5 * time.Second}, nil, dbOfport{after: time.Hour}, nil, logrus.New())
	reported := func(n uint32, err error) func(context.Context) (uint32, error) {
		return func(context.Context) (uint32, error) { return n, err }
	}
	if n, err := slowDB.waitOfport(context.Background(), "sy1", reported(7, nil)); n != 7 || err != nil {
		t.Fatalf("with the report first: %d, %v; want 7", n, err)
	}
	neverReported := func(ctx context.Context) (uint32, error) { <-ctx.Done(); return 0, ctx.Err() }
	failing := NewManager(Settings{OfportTimeout: 5 * time.Second}, nil,
		dbOfport{err: errors.New("could not open network device sy1")}, nil, logrus.New())
	if _, err := failing.waitOfport(context.Background(), "sy1", neverReported); err == nil || !strings.Contains(err.Error(), "could not open") {
		t.Fatalf("with vswitchd's error in OVSDB and no report: %v, want that error", err)
	}
	db := NewManager(Settings{OfportTimeout: 5 * time.Second}, nil, dbOfport{after: 10 * time.Millisecond, ofport: 9}, nil, logrus.New())
	if n, err := db.waitOfport(context.Background(), "sy1", reported(0, errors.New("connection closed"))); n != 9 || err != nil {
		t.Fatalf("with a failed report: %d, %v; want OVSDB's 9", n, err)
	}
	if n, err := db.waitOfport(context.Background(), "sy1", nil); n != 9 || err != nil {
		t.Fatalf("without a watch: %d, %v; want OVSDB's 9", n, err)
	}
}
