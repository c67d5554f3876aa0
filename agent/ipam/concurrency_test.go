package ipam

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// allocateConcurrently runs one Allocate per key, all at once, spread over the allocators.
func allocateConcurrently(t *testing.T, allocators []*Allocator, keys []Key) map[string]Key {
	t.Helper()
	ips := make([]net.IP, len(keys))
	errs := make([]error, len(keys))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ips[i], errs[i] = allocators[i%len(allocators)].Allocate(k)
		}()
	}
	close(start)
	wg.Wait()

	owners := map[string]Key{}
	for i, ip := range ips {
		if errs[i] != nil {
			t.Fatalf("Allocate(%v): %v", keys[i], errs[i])
		}
		if prev, dup := owners[ip.String()]; dup {
			t.Fatalf("%s handed out twice: to %v and %v", ip, prev, keys[i])
		}
		owners[ip.String()] = keys[i]
	}
	return owners
}

func TestConcurrentAllocateOneAllocator(t *testing.T) {
	a := newAllocator(t, t.TempDir(), "10.244.1.0/24")
	var keys []Key
	for i := 0; i < 20; i++ {
		keys = append(keys, key(i))
	}
	owners := allocateConcurrently(t, []*Allocator{a}, keys)
	if len(owners) != 20 {
		t.Fatalf("got %d distinct IPs, want 20", len(owners))
	}
	if got := len(a.List()); got != 20 {
		t.Fatalf("List has %d entries, want 20", got)
	}
}

// Two Allocators on the same directory have separate mutexes and separate lock-file
// descriptions, exactly like two processes: only the flock keeps them apart.
func TestConcurrentAllocateTwoAllocatorsSameDir(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "10.244.1.0/24")
	b := newAllocator(t, dir, "10.244.1.0/24")
	var keys []Key
	for i := 0; i < 40; i++ {
		keys = append(keys, Key{ContainerID: fmt.Sprintf("ctr-%d", i), IfName: "eth0"})
	}
	owners := allocateConcurrently(t, []*Allocator{a, b}, keys)
	if len(owners) != 40 {
		t.Fatalf("got %d distinct IPs, want 40", len(owners))
	}

	// Both see the full, identical state after a reload, and it matches what was handed out.
	for name, al := range map[string]*Allocator{"a": a, "b": b} {
		if err := al.Reload(); err != nil {
			t.Fatal(err)
		}
		list := al.List()
		if len(list) != 40 {
			t.Fatalf("allocator %s lists %d allocations, want 40", name, len(list))
		}
		for _, e := range list {
			if owners[e.IP.String()] != e.Key {
				t.Fatalf("allocator %s: %s recorded for %v, handed out to %v", name, e.IP, e.Key, owners[e.IP.String()])
			}
		}
	}
}

// AllocateUnsynced returns before its files are written; another allocator on the directory (another process)
// allocating meanwhile must still never get the same address, and must see the first allocation.
func TestAllocateUnsyncedWriteIsSeenByOtherAllocators(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "10.244.1.0/24")
	b := newAllocator(t, dir, "10.244.1.0/24")
	for i := 0; i < 50; i += 2 {
		ipA, durable, err := a.AllocateUnsynced(key(i))
		if err != nil {
			t.Fatal(err)
		}
		ipB := mustAllocate(t, b, key(i+1))
		if ipA.Equal(ipB) {
			t.Fatalf("%s handed out to both %v and %v", ipA, key(i), key(i+1))
		}
		if got, ok := b.Lookup(key(i)); !ok || !got.Equal(ipA) {
			t.Fatalf("the other allocator sees %v for %v (found %v), want %s", got, key(i), ok, ipA)
		}
		if err := durable(); err != nil {
			t.Fatal(err)
		}
	}
}
