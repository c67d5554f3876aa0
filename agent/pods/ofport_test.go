package pods

import (
	"sync"
	"testing"

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
