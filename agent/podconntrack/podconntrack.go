// Package podconntrack forgets the connections of pods that are gone from other nodes. CNI DEL flushes a deleted
// pod's conntrack entries on its own node; its peers keep their side of its connections (the client's entries of a
// probe, an established connection) until OVS's timeouts expire them, up to a day for an established TCP
// connection. When the address is reused by a new pod soon after, such an entry can take over one of the new pod's
// connections (same addresses and ports: the old connection's state, sequence numbers and NAT). So every agent
// flushes, per deleted remote pod address, the entries that have it as an endpoint.
//
// The flush is cheap: a few `ovs-appctl dpctl/flush-conntrack` calls with the address as a tuple field, never a full
// flush. It runs on a worker of its own, off the informer's goroutine, one address at a time, and skips an address
// that a live pod holds again by then (its new connections must stay).
package podconntrack

import (
	"context"
	"net/netip"
	"sync"

	"github.com/sirupsen/logrus"
)

// Flusher queues the addresses of deleted remote pods and flushes their conntrack entries.
type Flusher struct {
	flush func(ctx context.Context, ip netip.Addr) error
	log   logrus.FieldLogger

	mu      sync.Mutex
	queued  map[netip.Addr]bool
	order   []netip.Addr
	kick    chan struct{}
	flushed int
}

// New returns a Flusher that removes an address's entries with flush (the agent flushes every conntrack zone it
// uses).
func New(flush func(ctx context.Context, ip netip.Addr) error, log logrus.FieldLogger) *Flusher {
	return &Flusher{flush: flush, log: log, queued: map[netip.Addr]bool{}, kick: make(chan struct{}, 1)}
}

// Gone queues ip, the address of a deleted pod of another node. It never blocks; an address already queued is
// flushed once.
func (f *Flusher) Gone(ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	f.mu.Lock()
	if !f.queued[ip] {
		f.queued[ip] = true
		f.order = append(f.order, ip)
	}
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run flushes the queued addresses until ctx ends. inUse reports whether a live pod holds an address again: such an
// address is skipped.
func (f *Flusher) Run(ctx context.Context, inUse func(netip.Addr) bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		for {
			ip, ok := f.next()
			if !ok {
				break
			}
			if inUse != nil && inUse(ip) {
				f.log.WithField("ip", ip).Debug("a deleted remote pod's address is in use again; its conntrack entries stay")
				continue
			}
			if err := f.flush(ctx, ip); err != nil {
				if ctx.Err() != nil {
					return
				}
				// Best effort: the entries still expire by OVS's timeouts.
				f.log.WithError(err).WithField("ip", ip).Warn("flushing the conntrack entries of a deleted remote pod")
				continue
			}
			f.mu.Lock()
			f.flushed++
			f.mu.Unlock()
		}
	}
}

// next takes the oldest queued address.
func (f *Flusher) next() (netip.Addr, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) == 0 {
		return netip.Addr{}, false
	}
	ip := f.order[0]
	f.order = f.order[1:]
	delete(f.queued, ip)
	return ip, true
}

// Flushed is the number of addresses flushed so far.
func (f *Flusher) Flushed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushed
}
