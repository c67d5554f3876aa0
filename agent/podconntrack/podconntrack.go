// Package podconntrack forgets the connections of pods that are gone from other nodes. CNI DEL flushes a deleted
// pod's conntrack entries on its own node; its peers keep their side of its connections (the client's entries of a
// probe, an established connection) until OVS's timeouts expire them, up to a day for an established TCP
// connection. When the address is reused by a new pod soon after, such an entry can take over one of the new pod's
// connections (same addresses and ports: the old connection's state, sequence numbers and NAT). So every agent
// flushes, per deleted remote pod address, the entries that have it as an endpoint.
//
// Two passes, because the deletion event does not say that the pod is off the network:
//
//   - At the deletion event, every entry of the address (the address as a tuple field: a few
//     `ovs-appctl dpctl/flush-conntrack` calls, never a full flush), unless a live pod holds the address again by
//     then (its new connections must stay). The connections' exact tuples are noted first.
//   - Then, a few times over the next minute, the entries whose original tuple is one of those noted tuples (either
//     orientation), one exact-tuple flush each. A Pod object can be gone from the API before its node has stopped
//     it: a zero grace period (spec or delete option) or a force delete removes it at once, and the kubelet tears
//     the pod down afterwards. Until its node detaches it the pod still sends, and the last packets of its
//     connections (a FIN, the final ACK; OVS's tracker accepts a mid-stream packet as a new connection) recreate
//     their entries here after the first flush, and a client that never got the final ACK retransmits its FIN for
//     a while. Exact tuples are safe even if a new pod holds the address by then: its connections are new ones (new
//     ports) and keep their entries.
//
// The work runs on a worker of its own, off the informer's goroutine, one address at a time.
package podconntrack

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Tuple is one direction of a connection: addresses, protocol and ports.
type Tuple struct {
	Proto        string // tcp, udp or sctp
	Src, Dst     netip.Addr
	Sport, Dport uint16
}

// Conn is one entry of the datapath's connection tracker.
type Conn struct {
	Zone        uint16
	Orig, Reply Tuple
}

// has says whether ip is an endpoint of c (either direction, before or after NAT).
func (c Conn) has(ip netip.Addr) bool {
	return c.Orig.Src == ip || c.Orig.Dst == ip || c.Reply.Src == ip || c.Reply.Dst == ip
}

// Datapath is what the Flusher needs from OVS.
type Datapath interface {
	// Conns lists the TCP, UDP and SCTP entries of every zone the agent uses.
	Conns(ctx context.Context) ([]Conn, error)
	// FlushAddr removes every entry that has ip as an endpoint, in every zone the agent uses.
	FlushAddr(ctx context.Context, ip netip.Addr) error
	// FlushTuple removes the entry of zone whose original tuple is t, if any.
	FlushTuple(ctx context.Context, zone uint16, t Tuple) error
}

// DefaultRechecks are the times after the first flush at which a gone address's connections are flushed again by
// tuple: the pod's own last packets (until its node detaches it: usually well under a second, longer with a grace
// period after a force delete), then a client's FIN retransmissions (exponential back-off, Linux gives up on an
// orphaned socket after ~8 of them).
var DefaultRechecks = []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second,
	6 * time.Second, 12 * time.Second, 25 * time.Second, 50 * time.Second}

// maxTuples bounds the tuples noted per address (a pod with more connections gets only the first flush for the
// rest).
const maxTuples = 4096

// watch is a flushed address whose connections are flushed again by tuple.
type watch struct {
	tuples map[tupleKey]bool
	since  time.Time // first flush
	next   int       // index into rechecks
}

type tupleKey struct {
	zone uint16
	t    Tuple
}

// Flusher queues the addresses of deleted remote pods and flushes their conntrack entries.
type Flusher struct {
	dp       Datapath
	log      logrus.FieldLogger
	rechecks []time.Duration
	now      func() time.Time

	mu      sync.Mutex
	queued  map[netip.Addr]bool
	order   []netip.Addr
	kick    chan struct{}
	flushed int // addresses flushed (first pass)
	again   int // entries flushed again by tuple

	watches map[netip.Addr]*watch // the worker's
}

// New returns a Flusher working on dp.
func New(dp Datapath, log logrus.FieldLogger) *Flusher {
	return &Flusher{dp: dp, log: log, rechecks: DefaultRechecks, now: time.Now, queued: map[netip.Addr]bool{},
		kick: make(chan struct{}, 1), watches: map[netip.Addr]*watch{}}
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
// address is not flushed (its noted tuples, from an earlier deletion, still are).
func (f *Flusher) Run(ctx context.Context, inUse func(netip.Addr) bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-timer.C:
		}
		if ips := f.takeQueued(inUse); len(ips) > 0 {
			if err := f.first(ctx, ips); err != nil {
				if ctx.Err() != nil {
					return
				}
				// Best effort: the entries still expire by OVS's timeouts.
				f.log.WithError(err).WithField("ips", ips).Warn("flushing the conntrack entries of deleted remote pods")
			}
		}
		if err := f.recheck(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			f.log.WithError(err).Warn("flushing the recreated conntrack entries of deleted remote pods")
		}
		timer.Reset(f.untilNext())
	}
}

// takeQueued takes the queued addresses, leaving out those a live pod holds again.
func (f *Flusher) takeQueued(inUse func(netip.Addr) bool) []netip.Addr {
	var ips []netip.Addr
	for {
		ip, ok := f.next()
		if !ok {
			return ips
		}
		if inUse != nil && inUse(ip) {
			f.log.WithField("ip", ip).Debug("a deleted remote pod's address is in use again; its conntrack entries stay")
			continue
		}
		ips = append(ips, ip)
	}
}

// first notes the connections of ips (one dump for all), flushes every entry of each address and watches the
// noted tuples.
func (f *Flusher) first(ctx context.Context, ips []netip.Addr) error {
	conns, err := f.dp.Conns(ctx)
	if err != nil {
		// Flush anyway; only the second pass is lost.
		f.log.WithError(err).Warn("listing conntrack entries before flushing deleted remote pods' addresses")
	}
	var errs []error
	for _, ip := range ips {
		if err := f.dp.FlushAddr(ctx, ip); err != nil {
			errs = append(errs, err)
			continue
		}
		f.mu.Lock()
		f.flushed++
		f.mu.Unlock()
		w := &watch{tuples: map[tupleKey]bool{}, since: f.now()}
		if old := f.watches[ip]; old != nil {
			w.tuples = old.tuples // an earlier deletion's tuples: still that pod's
		}
		for _, c := range conns {
			if len(w.tuples) >= maxTuples {
				break
			}
			if c.has(ip) {
				// A recreated entry has the old original tuple, or the old reply tuple when the first packet
				// seen again came from the other side.
				w.tuples[tupleKey{c.Zone, c.Orig}] = true
				w.tuples[tupleKey{c.Zone, c.Reply}] = true
			}
		}
		if len(w.tuples) > 0 {
			f.watches[ip] = w
		}
	}
	return errors.Join(errs...)
}

// recheck flushes again, by exact tuple, the recreated entries of the watched addresses that are due.
func (f *Flusher) recheck(ctx context.Context) error {
	now := f.now()
	var due []*watch
	for ip, w := range f.watches {
		if w.next >= len(f.rechecks) {
			delete(f.watches, ip)
			continue
		}
		if !now.Before(w.since.Add(f.rechecks[w.next])) {
			due = append(due, w)
		}
	}
	if len(due) == 0 {
		return nil
	}
	conns, err := f.dp.Conns(ctx)
	if err != nil {
		return err
	}
	for _, w := range due {
		for w.next < len(f.rechecks) && !now.Before(w.since.Add(f.rechecks[w.next])) {
			w.next++
		}
	}
	var errs int
	var last error
	for _, c := range conns {
		for _, w := range due {
			if !w.tuples[tupleKey{c.Zone, c.Orig}] {
				continue
			}
			if err := f.dp.FlushTuple(ctx, c.Zone, c.Orig); err != nil {
				errs, last = errs+1, err
			} else {
				f.mu.Lock()
				f.again++
				f.mu.Unlock()
			}
			break
		}
	}
	if errs > 0 {
		return last
	}
	return nil
}

// untilNext is how long until the next watched address is due (an hour when none is).
func (f *Flusher) untilNext() time.Duration {
	d := time.Hour
	now := f.now()
	for _, w := range f.watches {
		if w.next < len(f.rechecks) {
			d = min(d, max(w.since.Add(f.rechecks[w.next]).Sub(now), time.Millisecond))
		} else {
			d = min(d, time.Millisecond) // to be dropped
		}
	}
	return d
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

// FlushedAgain is the number of recreated entries flushed again by tuple so far.
func (f *Flusher) FlushedAgain() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.again
}
