package ipam

import (
	"fmt"
	"net"
	"testing"
)

// BenchmarkAllocateUnsynced is the time a CNI ADD waits for its address: AllocateUnsynced's return. The write
// and the fsync (durable) run outside the timer, as they overlap the rest of an ADD.
func BenchmarkAllocateUnsynced(b *testing.B) {
	_, cidr, _ := net.ParseCIDR("10.9.0.0/16")
	a, err := New(b.TempDir(), "bench", cidr)
	if err != nil {
		b.Fatal(err)
	}
	key := func(i int) Key { return Key{ContainerID: fmt.Sprintf("c%d", i), IfName: "eth0"} }
	for i := 0; b.Loop(); i++ {
		_, durable, err := a.AllocateUnsynced(key(i))
		b.StopTimer()
		if err == nil {
			err = durable()
		}
		if err != nil {
			b.Fatal(err)
		}
		if i%200 == 199 { // keep the directory at up to 200 allocations, as a busy node
			for j := i - 199; j <= i; j++ {
				if err := a.Release(key(j)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
	}
}
