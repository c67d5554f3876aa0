// Package ipam is Switchyard's address allocator for a node's pod CIDR.
//
// Allocations are persisted in dir/<network>/, one small file per allocated address holding
// the owner's key, in the style of the host-local plugin. Every change is written atomically
// and made under both an in-process mutex and an flock on dir/<network>/lock. Every change also
// bumps a generation counter kept in the lock file; before a change the directory is re-read
// unless the counter and the directory's modification time are those this Allocator left, so
// several processes (or several Allocators) sharing the directory never hand out the same
// address twice, and one process alone does not re-read every allocation file on each change.
//
// Addresses are handed out round-robin starting after the most recently allocated one, so a
// released address is not reused until the rest of the range has been tried.
//
// Two kinds of file are kept but never handed out or silently dropped:
//   - stale allocations: addresses outside the current allocatable range (for example after
//     the node's pod CIDR changed), reported by Stale;
//   - corrupt allocations: files named like an address whose content cannot be parsed. Their
//     owner is unknown, so the address stays reserved and is reported by Corrupt; ReleaseIP
//     frees it once an operator or a garbage collector has decided it is unused.
package ipam

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrRangeExhausted is wrapped by Allocate's error when no address is free.
var ErrRangeExhausted = errors.New("address range exhausted")

// Key identifies the owner of an allocation the way CNI does.
type Key struct {
	ContainerID string
	IfName      string
}

func (k Key) validate() error {
	if k.ContainerID == "" || k.IfName == "" {
		return fmt.Errorf("invalid key %+v: container ID and interface name must not be empty", k)
	}
	if strings.ContainsAny(k.ContainerID+k.IfName, "\n\r") {
		return fmt.Errorf("invalid key %q/%q: contains a line break", k.ContainerID, k.IfName)
	}
	return nil
}

// Allocation is one allocated address and its owner.
type Allocation struct {
	IP  net.IP
	Key Key
}

// CorruptEntry is an allocation file whose content could not be parsed.
type CorruptEntry struct {
	IP   net.IP
	Path string
	Err  error
}

// Allocator hands out addresses of one pod CIDR for one network. It is safe for concurrent
// use. Lookup, List, Stale and Corrupt answer from a snapshot of the directory taken by New,
// Reload and every Allocate/Release/ReleaseIP; they do no I/O.
type Allocator struct {
	network string
	rng     addrRange
	store   store

	mu   sync.Mutex // serialises this process's operations; flock serialises processes
	snap *diskState
	seen dirVersion // the directory's version when snap was last known to match it
}

// New opens (creating it if needed) the allocation directory dir/<network> for cidr and loads
// the allocations already recorded there.
func New(dir, network string, cidr *net.IPNet) (*Allocator, error) {
	if network == "" || network == "." || network == ".." || strings.ContainsRune(network, '/') {
		return nil, fmt.Errorf("ipam: invalid network name %q", network)
	}
	rng, err := newAddrRange(cidr)
	if err != nil {
		return nil, fmt.Errorf("ipam: network %q: %w", network, err)
	}
	netDir := filepath.Join(dir, network)
	if err := os.MkdirAll(netDir, 0o700); err != nil {
		return nil, fmt.Errorf("ipam: create directory for network %q: %w", network, err)
	}
	a := &Allocator{network: network, rng: rng, store: store{dir: netDir}}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Gateway is the pod CIDR's gateway address (its first usable address), never allocated.
func (a *Allocator) Gateway() net.IP { return net.IP(a.rng.gateway.AsSlice()) }

// CIDR is the pod CIDR this allocator serves, with its host bits cleared.
func (a *Allocator) CIDR() *net.IPNet {
	p := a.rng.prefix
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Allocate returns the address owned by key, allocating the next free one if key has none, durably.
// Calling it again with the same key returns the same address.
func (a *Allocator) Allocate(key Key) (net.IP, error) {
	ip, durable, err := a.AllocateUnsynced(key)
	if err == nil {
		err = durable()
	}
	if err != nil {
		return nil, err
	}
	return ip, nil
}

// AllocateUnsynced is Allocate without waiting for the disk. It returns the address as soon as it is chosen; the
// allocation is written while the caller goes on (the pod's veth and flows during a CNI ADD), under the locks, so
// other allocations, in this process or another, wait for it and never see the address free. It survives a crash
// of the node only once durable has returned nil: the caller must call durable, which waits for the write and
// makes it durable, before it hands the address out, and may undo with Release only after durable has returned.
func (a *Allocator) AllocateUnsynced(key Key) (ip net.IP, durable func() error, err error) {
	if err := key.validate(); err != nil {
		return nil, nil, fmt.Errorf("ipam: allocate: %w", err)
	}
	fail := func(err error) error { // nil stays nil
		if err == nil {
			return nil
		}
		return fmt.Errorf("ipam: network %q: allocate for %s/%s: %w", a.network, key.ContainerID, key.IfName, err)
	}
	lk, st, err := a.lockState()
	if err != nil {
		return nil, nil, fail(err)
	}
	got, fresh, err := a.choose(st, key)
	if err != nil || !fresh { // an error, or the key's existing allocation: nothing to write
		if err = a.unlockState(lk, st, err); err != nil {
			return nil, nil, fail(err)
		}
		return net.IP(got.AsSlice()), func() error { return fail(a.store.syncAllocation(got)) }, nil
	}
	written := make(chan error, 1)
	go func() { // holds both locks until the files are written
		err := a.store.writeAllocation(got, key)
		if err == nil {
			if err = a.store.writeLast(got); err != nil {
				err = errors.Join(err, a.store.remove(got))
			}
		}
		if err == nil {
			st.byIP[got], st.last = key, got
		}
		written <- a.unlockState(lk, st, err)
	}()
	durable = func() error {
		err := <-written
		if err == nil {
			err = a.store.syncAllocation(got)
		}
		return fail(err)
	}
	return net.IP(got.AsSlice()), durable, nil
}

// choose returns the address key already owns in the range (fresh false), or the next free one after the
// round-robin cursor (fresh true). It does no I/O.
func (a *Allocator) choose(st *diskState, key Key) (addr netip.Addr, fresh bool, err error) {
	for _, addr := range st.addrsOf(key) {
		if a.rng.allocatable(addr) {
			return addr, false, nil
		}
	}
	addr, ok := a.rng.findFree(st.last, func(x netip.Addr) bool {
		_, used := st.byIP[x]
		_, broken := st.corrupt[x]
		return used || broken
	})
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("%w: all %d addresses of %s are in use", ErrRangeExhausted, a.rng.size(), a.rng.prefix)
	}
	return addr, true, nil
}

// Release frees every address owned by key, including stale ones. Releasing a key that owns
// nothing succeeds.
func (a *Allocator) Release(key Key) error {
	err := a.update(func(st *diskState) error {
		for _, addr := range st.addrsOf(key) {
			if err := a.store.remove(addr); err != nil {
				return err
			}
			delete(st.byIP, addr)
		}
		return nil
	})
	if err == nil {
		err = syncDir(a.store.dir)
	}
	if err != nil {
		return fmt.Errorf("ipam: network %q: release %s/%s: %w", a.network, key.ContainerID, key.IfName, err)
	}
	return nil
}

// ReleaseIP frees ip whoever owns it, including stale and corrupt entries. Releasing a free
// address succeeds.
func (a *Allocator) ReleaseIP(ip net.IP) error {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Errorf("ipam: network %q: release: invalid IP %v", a.network, ip)
	}
	addr = addr.Unmap()
	err := a.update(func(st *diskState) error {
		if err := a.store.remove(addr); err != nil {
			return err
		}
		delete(st.byIP, addr)
		delete(st.corrupt, addr)
		return nil
	})
	if err == nil {
		err = syncDir(a.store.dir)
	}
	if err != nil {
		return fmt.Errorf("ipam: network %q: release %s: %w", a.network, addr, err)
	}
	return nil
}

// Reload re-reads the directory, picking up changes made by other processes.
func (a *Allocator) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.store.lock(unix.LOCK_SH)
	if err != nil {
		return fmt.Errorf("ipam: network %q: %w", a.network, err)
	}
	defer unlock.release()
	st, err := a.store.load()
	if err != nil {
		return fmt.Errorf("ipam: network %q: %w", a.network, err)
	}
	a.snap, a.seen = st, a.store.version(unlock)
	return nil
}

// update runs change under both locks on the directory's current state, then keeps the result as
// the snapshot. The state is re-read from the directory unless nobody has changed it since this
// Allocator last did. change must only modify st to mirror what it has written to disk.
func (a *Allocator) update(change func(st *diskState) error) error {
	lk, st, err := a.lockState()
	if err != nil {
		return err
	}
	return a.unlockState(lk, st, change(st))
}

// lockState takes both locks (this Allocator's mutex, then the directory's flock) and returns the directory's
// current state: the snapshot, or the directory read again if anybody has changed it since. Both locks stay held
// until unlockState, which may be called from another goroutine.
func (a *Allocator) lockState() (lockFile, *diskState, error) {
	a.mu.Lock()
	lk, err := a.store.lock(unix.LOCK_EX)
	if err != nil {
		a.mu.Unlock()
		return lockFile{}, nil, err
	}
	st := a.snap
	if cur := a.store.version(lk); st == nil || cur != a.seen {
		a.store.removeTemps()
		if st, err = a.store.load(); err != nil {
			lk.release()
			a.mu.Unlock()
			return lockFile{}, nil, err
		}
	}
	return lk, st, nil
}

// unlockState keeps st (which must mirror the directory) as the snapshot, bumps the generation so that other
// processes re-read the directory, and releases both locks. It returns err joined with a failure to bump.
func (a *Allocator) unlockState(lk lockFile, st *diskState, err error) error {
	defer a.mu.Unlock()
	defer lk.release()
	a.snap = st
	if berr := a.store.bump(lk); berr != nil { // the next change re-reads the directory
		a.seen = dirVersion{}
		return errors.Join(err, berr)
	}
	a.seen = a.store.version(lk)
	return err
}

// Lookup returns the address owned by key within the current range.
func (a *Allocator) Lookup(key Key) (net.IP, bool) {
	for _, al := range a.List() {
		if al.Key == key {
			return al.IP, true
		}
	}
	return nil, false
}

// List returns the allocations inside the current range, ordered by address.
func (a *Allocator) List() []Allocation {
	return a.allocations(func(addr netip.Addr) bool { return a.rng.allocatable(addr) })
}

// Stale returns allocations found on disk outside the current allocatable range (outside the
// CIDR, or on its network, gateway or broadcast address), ordered by address. They are kept
// until released with Release or ReleaseIP.
func (a *Allocator) Stale() []Allocation {
	return a.allocations(func(addr netip.Addr) bool { return !a.rng.allocatable(addr) })
}

// Corrupt returns allocation files whose content could not be parsed, ordered by address.
// Their addresses are never handed out until freed with ReleaseIP.
func (a *Allocator) Corrupt() []CorruptEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []CorruptEntry
	for addr, err := range a.snap.corrupt {
		out = append(out, CorruptEntry{
			IP:   net.IP(addr.AsSlice()),
			Path: filepath.Join(a.store.dir, addr.String()),
			Err:  err,
		})
	}
	sort.Slice(out, func(i, j int) bool { return compareIP(out[i].IP, out[j].IP) < 0 })
	return out
}

func (a *Allocator) allocations(keep func(netip.Addr) bool) []Allocation {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Allocation
	for addr, key := range a.snap.byIP {
		if keep(addr) {
			out = append(out, Allocation{IP: net.IP(addr.AsSlice()), Key: key})
		}
	}
	sort.Slice(out, func(i, j int) bool { return compareIP(out[i].IP, out[j].IP) < 0 })
	return out
}

func compareIP(x, y net.IP) int {
	ax, _ := netip.AddrFromSlice(x)
	ay, _ := netip.AddrFromSlice(y)
	return ax.Unmap().Compare(ay.Unmap())
}
