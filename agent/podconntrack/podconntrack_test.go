package podconntrack

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// The worker flushes each queued address once, in order, skips an address a live pod holds again, and goes on
// after a failed flush.
func TestFlusherFlushesEachGoneAddressOnce(t *testing.T) {
	var mu sync.Mutex
	var flushed []string
	release := make(chan struct{})
	f := New(func(_ context.Context, ip netip.Addr) error {
		<-release // hold the worker so that the queue fills up behind it
		mu.Lock()
		defer mu.Unlock()
		flushed = append(flushed, ip.String())
		if ip.String() == "10.244.2.3" {
			return errors.New("ovs-appctl failed")
		}
		return nil
	}, logrus.New())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reused := netip.MustParseAddr("10.244.2.4")
	done := make(chan struct{})
	go func() { f.Run(ctx, func(ip netip.Addr) bool { return ip == reused }); close(done) }()

	f.Gone(netip.MustParseAddr("10.244.2.2"))
	time.Sleep(50 * time.Millisecond) // the worker holds .2
	for _, s := range []string{"10.244.2.3", "10.244.2.4", "10.244.2.5", "10.244.2.3", "10.244.2.5"} {
		f.Gone(netip.MustParseAddr(s))
	}
	f.Gone(netip.Addr{})
	close(release)
	want := []string{"10.244.2.2", "10.244.2.3", "10.244.2.5"}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got := slices.Clone(flushed)
		mu.Unlock()
		if slices.Equal(got, want) && f.Flushed() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flushed %v (%d succeeded), want %v (2 succeeded: .3 failed, .4 is in use again)", got, f.Flushed(), want)
		}
	}
	cancel()
	<-done
}
