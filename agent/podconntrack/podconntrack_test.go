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

// fakeDP is a connection table: FlushAddr and FlushTuple remove entries as OVS does.
type fakeDP struct {
	mu      sync.Mutex
	conns   []Conn
	addrs   []string // FlushAddr calls
	tuples  []Tuple  // FlushTuple calls
	hold    chan struct{}
	failOn  string
	dumpErr error
}

func (d *fakeDP) Conns(context.Context) ([]Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.conns), d.dumpErr
}

func (d *fakeDP) FlushAddr(_ context.Context, ip netip.Addr) error {
	if d.hold != nil {
		<-d.hold
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs = append(d.addrs, ip.String())
	if ip.String() == d.failOn {
		return errors.New("ovs-appctl failed")
	}
	d.conns = slices.DeleteFunc(d.conns, func(c Conn) bool { return c.has(ip) })
	return nil
}

func (d *fakeDP) FlushTuple(_ context.Context, zone uint16, t Tuple) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tuples = append(d.tuples, t)
	d.conns = slices.DeleteFunc(d.conns, func(c Conn) bool { return c.Zone == zone && c.Orig == t })
	return nil
}

func (d *fakeDP) add(c ...Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns = append(d.conns, c...)
}

func (d *fakeDP) snapshot() (conns []Conn, addrs []string, tuples []Tuple) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.conns), slices.Clone(d.addrs), slices.Clone(d.tuples)
}

func tcp(src string, sport uint16, dst string, dport uint16) Tuple {
	return Tuple{Proto: "tcp", Src: netip.MustParseAddr(src), Sport: sport, Dst: netip.MustParseAddr(dst), Dport: dport}
}

func (t Tuple) reverse() Tuple {
	return Tuple{Proto: t.Proto, Src: t.Dst, Dst: t.Src, Sport: t.Dport, Dport: t.Sport}
}

func conn(t Tuple) Conn { return Conn{Zone: 65520, Orig: t, Reply: t.reverse()} }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
	}
}

// The worker flushes each queued address once, in order, skips an address a live pod holds again, and goes on
// after a failed flush.
func TestFlusherFlushesEachGoneAddressOnce(t *testing.T) {
	dp := &fakeDP{hold: make(chan struct{}), failOn: "10.244.2.3"}
	f := New(dp, logrus.New())
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
	close(dp.hold)
	want := []string{"10.244.2.2", "10.244.2.3", "10.244.2.5"}
	waitFor(t, "flushes of .2, .3 (failing) and .5", func() bool {
		_, addrs, _ := dp.snapshot()
		return slices.Equal(addrs, want) && f.Flushed() == 2
	})
	cancel()
	<-done
}

// After the first flush, the entries that the gone pod's last packets (or a client's retransmissions) recreate
// with one of its connections' tuples, in either orientation, are flushed again by exact tuple; a new connection
// of the address (a new pod holding it) is never touched, even while the address is in use again.
func TestFlusherFlushesRecreatedEntriesByTupleOnly(t *testing.T) {
	gone := netip.MustParseAddr("10.244.2.7")
	probe := tcp("10.244.1.2", 47882, "10.244.2.7", 8080)   // a client's connection to the gone pod
	outgoing := tcp("10.244.2.7", 40000, "10.244.1.9", 53)  // the gone pod's own connection
	other := tcp("10.244.1.2", 50000, "10.244.2.8", 8080)   // another pod's: never touched
	newConn := tcp("10.244.1.2", 47990, "10.244.2.7", 8080) // a new pod's on the reused address
	dp := &fakeDP{}
	dp.add(conn(probe), conn(outgoing), conn(other))
	f := New(dp, logrus.New())
	f.rechecks = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond}
	var inUse sync.Map
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		f.Run(ctx, func(ip netip.Addr) bool { _, ok := inUse.Load(ip); return ok })
		close(done)
	}()

	f.Gone(gone)
	waitFor(t, "the first flush", func() bool { return f.Flushed() == 1 })
	if conns, _, _ := dp.snapshot(); !slices.Equal(conns, []Conn{conn(other)}) {
		t.Fatalf("after the first flush: %v, want only the other pod's connection", conns)
	}
	// The pod's final ACK arrives after the flush: an entry with the pod as the original side; the client's FIN
	// retransmission of the other connection; and a new pod gets the address and a connection.
	inUse.Store(gone, true)
	dp.add(conn(probe.reverse()), conn(outgoing), conn(newConn))
	waitFor(t, "the recreated entries flushed again", func() bool {
		conns, _, _ := dp.snapshot()
		return len(conns) == 2
	})
	conns, addrs, tuples := dp.snapshot()
	if !slices.Equal(conns, []Conn{conn(other), conn(newConn)}) {
		t.Errorf("left: %v, want the other pod's and the new pod's connections", conns)
	}
	if !slices.Equal(addrs, []string{"10.244.2.7"}) {
		t.Errorf("address flushes %v, want one of 10.244.2.7", addrs)
	}
	for _, tp := range tuples {
		if tp != probe.reverse() && tp != outgoing {
			t.Errorf("flushed tuple %v, not one of the gone pod's connections", tp)
		}
	}
	// Recreated again later (a retransmission): the next recheck flushes it; after the last one, nothing.
	dp.add(conn(probe))
	waitFor(t, "the retransmission's entry flushed", func() bool { conns, _, _ := dp.snapshot(); return len(conns) == 2 })
	time.Sleep(800 * time.Millisecond)
	dp.add(conn(probe))
	time.Sleep(100 * time.Millisecond)
	if conns, _, _ := dp.snapshot(); len(conns) != 3 {
		t.Errorf("after the last recheck: %v, want the entry left to OVS's timeouts", conns)
	}
	cancel()
	<-done
}

func TestParseConns(t *testing.T) {
	out := `tcp,orig=(src=10.150.0.2,dst=10.150.1.196,sport=60992,dport=8080),reply=(src=10.150.1.196,dst=10.150.0.2,sport=8080,dport=60992),zone=65520,protoinfo=(state=CLOSING)
udp,orig=(src=10.150.0.2,dst=10.96.0.10,sport=5353,dport=53),reply=(src=10.150.1.9,dst=10.150.0.2,sport=53,dport=5353),zone=65520
icmp,orig=(src=10.150.0.2,dst=10.150.1.5,id=7,type=8,code=0),reply=(src=10.150.1.5,dst=10.150.0.2,id=7,type=0,code=0),zone=65520
tcp,orig=(src=fd00::1,dst=fd00::2,sport=1,dport=2),reply=(src=fd00::2,dst=fd00::1,sport=2,dport=1)
`
	got := ParseConns(out, 65520)
	want := []Conn{
		{Zone: 65520, Orig: tcp("10.150.0.2", 60992, "10.150.1.196", 8080), Reply: tcp("10.150.1.196", 8080, "10.150.0.2", 60992)},
		{Zone: 65520, Orig: Tuple{"udp", netip.MustParseAddr("10.150.0.2"), netip.MustParseAddr("10.96.0.10"), 5353, 53},
			Reply: Tuple{"udp", netip.MustParseAddr("10.150.1.9"), netip.MustParseAddr("10.150.0.2"), 53, 5353}},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParseConns:\n got %v\nwant %v", got, want)
	}
	if !want[1].has(netip.MustParseAddr("10.150.1.9")) {
		t.Error("a DNATed connection's endpoint (reply source) is not one of its addresses")
	}
}
