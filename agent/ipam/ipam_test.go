package ipam

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newAllocator(t *testing.T, dir, cidr string) *Allocator {
	t.Helper()
	a, err := New(dir, "podnet", mustCIDR(t, cidr))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func key(i int) Key { return Key{ContainerID: fmt.Sprintf("ctr-%d", i), IfName: "eth0"} }

func mustAllocate(t *testing.T, a *Allocator, k Key) net.IP {
	t.Helper()
	ip, err := a.Allocate(k)
	if err != nil {
		t.Fatalf("Allocate(%v): %v", k, err)
	}
	return ip
}

func wantIP(t *testing.T, got net.IP, want string) {
	t.Helper()
	if !got.Equal(net.ParseIP(want)) {
		t.Fatalf("got IP %v, want %s", got, want)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ network, cidr, wantErr string }{
		{"podnet", "10.0.0.0/31", "too small"},
		{"podnet", "fd00::/64", "only IPv4"},
		{"", "10.0.0.0/24", "invalid network name"},
		{"a/b", "10.0.0.0/24", "invalid network name"},
		{"..", "10.0.0.0/24", "invalid network name"},
	} {
		_, err := New(dir, tc.network, mustCIDR(t, tc.cidr))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("New(%q, %s) error = %v, want it to mention %q", tc.network, tc.cidr, err, tc.wantErr)
		}
	}
	if _, err := New(dir, "podnet", nil); err == nil {
		t.Error("New with a nil CIDR succeeded")
	}
}

func TestGatewayAndCIDR(t *testing.T) {
	a := newAllocator(t, t.TempDir(), "10.244.1.77/24")
	wantIP(t, a.Gateway(), "10.244.1.1")
	if got := a.CIDR().String(); got != "10.244.1.0/24" {
		t.Errorf("CIDR() = %s, want 10.244.1.0/24", got)
	}
}

func TestAllocateIsIdempotentAndSkipsReserved(t *testing.T) {
	a := newAllocator(t, t.TempDir(), "10.244.1.0/24")
	first := mustAllocate(t, a, key(1))
	wantIP(t, first, "10.244.1.2") // .0 network, .1 gateway
	wantIP(t, mustAllocate(t, a, key(1)), "10.244.1.2")
	other := Key{ContainerID: "ctr-1", IfName: "net1"} // same container, other interface
	wantIP(t, mustAllocate(t, a, other), "10.244.1.3")
	if ip, ok := a.Lookup(key(1)); !ok || !ip.Equal(first) {
		t.Errorf("Lookup(key 1) = %v, %v; want %v, true", ip, ok, first)
	}
	if _, ok := a.Lookup(key(9)); ok {
		t.Error("Lookup of an unknown key found something")
	}
}

func TestAllocateRejectsInvalidKeys(t *testing.T) {
	a := newAllocator(t, t.TempDir(), "10.244.1.0/24")
	for _, k := range []Key{{}, {ContainerID: "c"}, {IfName: "eth0"}, {ContainerID: "a\nb", IfName: "eth0"}} {
		if _, err := a.Allocate(k); err == nil {
			t.Errorf("Allocate(%q) succeeded", k)
		}
	}
}

func TestExhaustion(t *testing.T) {
	a := newAllocator(t, t.TempDir(), "192.168.5.8/29") // .8 net, .9 gw, .10-.14 pods, .15 bcast
	for i := 0; i < 5; i++ {
		wantIP(t, mustAllocate(t, a, key(i)), fmt.Sprintf("192.168.5.%d", 10+i))
	}
	_, err := a.Allocate(key(5))
	if !errors.Is(err, ErrRangeExhausted) {
		t.Fatalf("sixth Allocate error = %v, want ErrRangeExhausted", err)
	}
	if !strings.Contains(err.Error(), "192.168.5.8/29") {
		t.Errorf("exhaustion error %q does not name the CIDR", err)
	}
	// An existing owner still gets its address back when the range is full.
	wantIP(t, mustAllocate(t, a, key(2)), "192.168.5.12")
}

func TestReleaseAndRoundRobin(t *testing.T) {
	a := newAllocator(t, t.TempDir(), "192.168.5.8/29")
	for i := 0; i < 3; i++ {
		mustAllocate(t, a, key(i)) // .10 .11 .12
	}
	if err := a.Release(key(0)); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(key(0)); err != nil {
		t.Fatalf("second Release of the same key: %v", err)
	}
	if err := a.Release(key(42)); err != nil {
		t.Fatalf("Release of an unknown key: %v", err)
	}
	if _, ok := a.Lookup(key(0)); ok {
		t.Error("released key still found")
	}
	// .10 was just released: round robin continues after .12 and wraps only at the end.
	wantIP(t, mustAllocate(t, a, key(3)), "192.168.5.13")
	wantIP(t, mustAllocate(t, a, key(4)), "192.168.5.14")
	wantIP(t, mustAllocate(t, a, key(5)), "192.168.5.10")

	if err := a.ReleaseIP(net.ParseIP("192.168.5.11")); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Lookup(key(1)); ok {
		t.Error("ReleaseIP did not free key 1's address")
	}
	if err := a.ReleaseIP(net.ParseIP("192.168.5.11")); err != nil {
		t.Fatalf("ReleaseIP of a free address: %v", err)
	}
	wantIP(t, mustAllocate(t, a, key(6)), "192.168.5.11")
}

func TestPersistenceAcrossNew(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "10.244.1.0/24")
	for i := 0; i < 3; i++ {
		mustAllocate(t, a, key(i))
	}
	if err := a.Release(key(2)); err != nil {
		t.Fatal(err)
	}

	b := newAllocator(t, dir, "10.244.1.0/24") // the agent restarted
	got := b.List()
	if len(got) != 2 || !got[0].IP.Equal(net.ParseIP("10.244.1.2")) || got[0].Key != key(0) ||
		!got[1].IP.Equal(net.ParseIP("10.244.1.3")) || got[1].Key != key(1) {
		t.Fatalf("List after restart = %v", got)
	}
	wantIP(t, mustAllocate(t, b, key(1)), "10.244.1.3")
	// The round-robin cursor survived too: .4 was released last, so the next one is .5.
	wantIP(t, mustAllocate(t, b, key(7)), "10.244.1.5")

	entries, err := os.ReadDir(filepath.Join(dir, "podnet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestStaleAllocationsAfterCIDRChange(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "10.244.1.0/24")
	mustAllocate(t, a, key(0)) // 10.244.1.2
	mustAllocate(t, a, key(1)) // 10.244.1.3

	b := newAllocator(t, dir, "10.244.1.0/30") // only .2 is allocatable now; .3 is broadcast
	if got := b.List(); len(got) != 1 || got[0].Key != key(0) {
		t.Fatalf("List = %v, want only key 0", got)
	}
	stale := b.Stale()
	if len(stale) != 1 || !stale[0].IP.Equal(net.ParseIP("10.244.1.3")) || stale[0].Key != key(1) {
		t.Fatalf("Stale = %v, want 10.244.1.3 owned by key 1", stale)
	}
	// The stale owner has no address in range and the range is full.
	if _, err := b.Allocate(key(1)); !errors.Is(err, ErrRangeExhausted) {
		t.Fatalf("Allocate for stale owner: %v, want ErrRangeExhausted", err)
	}
	if err := b.Release(key(1)); err != nil {
		t.Fatal(err)
	}
	if got := b.Stale(); len(got) != 0 {
		t.Fatalf("Stale after Release = %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "podnet", "10.244.1.3")); !os.IsNotExist(err) {
		t.Errorf("stale file still on disk after Release: %v", err)
	}
}

func TestCorruptFilesStayReservedAndAreReported(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "192.168.5.8/29")
	netDir := filepath.Join(dir, "podnet")
	for name, content := range map[string]string{
		"192.168.5.10": "",                      // empty
		"192.168.5.11": "only-a-container-id\n", // missing interface name
		"not-an-ip":    "ignored\neth0\n",       // not ours
	} {
		if err := os.WriteFile(filepath.Join(netDir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload with corrupt files: %v", err)
	}
	corrupt := a.Corrupt()
	if len(corrupt) != 2 || !corrupt[0].IP.Equal(net.ParseIP("192.168.5.10")) ||
		!corrupt[1].IP.Equal(net.ParseIP("192.168.5.11")) || corrupt[1].Err == nil ||
		corrupt[1].Path != filepath.Join(netDir, "192.168.5.11") {
		t.Fatalf("Corrupt = %+v", corrupt)
	}
	if got := a.List(); len(got) != 0 {
		t.Fatalf("List = %v, want nothing", got)
	}
	// The corrupt addresses are skipped.
	wantIP(t, mustAllocate(t, a, key(0)), "192.168.5.12")
	if err := a.ReleaseIP(net.ParseIP("192.168.5.10")); err != nil {
		t.Fatal(err)
	}
	if got := a.Corrupt(); len(got) != 1 {
		t.Fatalf("Corrupt after ReleaseIP = %+v, want one entry", got)
	}
}

// Two Allocators on one directory (as two agent processes would be) see each other's changes although each keeps
// its snapshot between changes: the generation counter in the lock file tells them when to re-read.
func TestAllocatorsSharingADirectorySeeEachOthersChanges(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "10.244.1.0/24")
	b := newAllocator(t, dir, "10.244.1.0/24")
	seen := map[string]Key{}
	for i := 0; i < 40; i++ {
		al := a
		if i%3 == 1 {
			al = b
		}
		ip := mustAllocate(t, al, key(i))
		if owner, dup := seen[ip.String()]; dup {
			t.Fatalf("%s handed out to %v and again to %v", ip, owner, key(i))
		}
		seen[ip.String()] = key(i)
		if i%5 == 4 { // the other allocator releases one: the address is free again for both
			other := b
			if al == b {
				other = a
			}
			if err := other.Release(key(i)); err != nil {
				t.Fatal(err)
			}
			delete(seen, ip.String())
		}
	}
	for _, al := range []*Allocator{a, b} { // List answers from the snapshot of the allocator's last change
		if err := al.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.List()) != len(seen) || len(b.List()) != len(seen) {
		t.Errorf("a lists %d allocations, b %d, want %d", len(a.List()), len(b.List()), len(seen))
	}
}

// A file added by hand (or by a writer that does not bump the counter) is seen through the directory's
// modification time: its address is not handed out.
func TestAllocationFileAddedByHandIsSeen(t *testing.T) {
	dir := t.TempDir()
	a := newAllocator(t, dir, "10.244.1.0/24")
	wantIP(t, mustAllocate(t, a, key(0)), "10.244.1.2")
	time.Sleep(20 * time.Millisecond) // past the file system's timestamp granularity
	if err := os.WriteFile(filepath.Join(dir, "podnet", "10.244.1.3"), encodeKey(key(99)), 0o600); err != nil {
		t.Fatal(err)
	}
	wantIP(t, mustAllocate(t, a, key(1)), "10.244.1.4")
	if ip, ok := a.Lookup(key(99)); !ok || !ip.Equal(net.ParseIP("10.244.1.3")) {
		t.Errorf("the hand-written allocation is not listed: %v %v", ip, ok)
	}
}

// The round-robin cursor is overwritten in place: a shorter address must not keep the tail of a longer one,
// and a new Allocator (a restarted agent) continues after it.
func TestCursorOverwrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	newAllocator(t, dir, "10.1.0.0/16")
	st := store{dir: filepath.Join(dir, "podnet")}
	for _, s := range []string{"10.1.200.100", "fd00::1:2", "10.1.0.5"} {
		addr := netip.MustParseAddr(s)
		if err := st.writeLast(addr); err != nil {
			t.Fatal(err)
		}
		if got := st.readLast(); got != addr {
			t.Fatalf("after writing %s the cursor reads %v", s, got)
		}
	}
	if got := mustAllocate(t, newAllocator(t, dir, "10.1.0.0/16"), key(1)).String(); got != "10.1.0.6" {
		t.Fatalf("a new allocator after cursor 10.1.0.5 gave %s, want 10.1.0.6", got)
	}
}
