package ipam

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// On-disk layout of one network, in dir/<network>/:
//
//	lock              flock(2) target serialising every process that uses the directory; holds the
//	                  generation counter, bumped by every change
//	last_reserved_ip  the address handed out most recently (round-robin cursor)
//	<ip>              one file per allocation, e.g. "10.244.1.5", holding "<containerID>\n<ifName>\n"
//	.tmp-*            temporary files of an interrupted atomic write; removed on the next write
const (
	lockFileName = "lock"
	lastFileName = "last_reserved_ip"
	tempPrefix   = ".tmp-"
)

// diskState is what one network directory holds, read under the lock.
type diskState struct {
	byIP    map[netip.Addr]Key   // well-formed allocation files, in range or not
	corrupt map[netip.Addr]error // allocation files whose content cannot be parsed
	last    netip.Addr           // round-robin cursor; invalid when unknown
}

// addrsOf returns the addresses recorded for key, in no particular order.
func (s *diskState) addrsOf(key Key) []netip.Addr {
	var out []netip.Addr
	for a, k := range s.byIP {
		if k == key {
			out = append(out, a)
		}
	}
	return out
}

// store reads and writes one network directory.
type store struct {
	dir string
}

// lockFile is the open lock file while its flock is held.
type lockFile struct{ f *os.File }

// release drops the flock (by closing the file).
func (l lockFile) release() { l.f.Close() }

// lock takes an flock on the directory's lock file (unix.LOCK_EX or unix.LOCK_SH).
func (s store) lock(how int) (lockFile, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return lockFile{}, fmt.Errorf("open ipam lock file: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return lockFile{}, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return lockFile{f}, nil
}

// dirVersion identifies the state of the directory: the generation counter every change bumps (under the
// exclusive lock) and the directory's modification time, which also moves when a file is added, renamed or
// removed by hand. Equal versions mean nobody changed the directory in between.
type dirVersion struct {
	generation uint64
	mtime      int64 // nanoseconds
}

// version reads the directory's version; lk must be held. An unreadable part reads as zero, which no
// Allocator has recorded after a change, so it forces a re-read.
func (s store) version(lk lockFile) dirVersion {
	var v dirVersion
	buf := make([]byte, 32)
	if n, _ := lk.f.ReadAt(buf, 0); n > 0 {
		v.generation, _ = strconv.ParseUint(strings.TrimSpace(string(buf[:n])), 10, 64)
	}
	if fi, err := os.Stat(s.dir); err == nil {
		v.mtime = fi.ModTime().UnixNano()
	}
	return v
}

// bump increments the generation counter; lk must be held exclusively. The counter needs no fsync: it only
// has to be seen by processes running at the same time (a process that starts reads the whole directory).
func (s store) bump(lk lockFile) error {
	g := s.version(lk).generation + 1
	if _, err := lk.f.WriteAt([]byte(fmt.Sprintf("%020d\n", g)), 0); err != nil {
		return fmt.Errorf("write ipam generation: %w", err)
	}
	return nil
}

// load reads every allocation file and the round-robin cursor. Files whose names are not IP
// addresses are ignored; allocation files with unparsable content are reported in corrupt.
func (s store) load() (*diskState, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read ipam directory: %w", err)
	}
	st := &diskState{byIP: map[netip.Addr]Key{}, corrupt: map[netip.Addr]error{}}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if name == lastFileName {
			st.last = s.readLast()
			continue
		}
		addr, err := netip.ParseAddr(name)
		if err != nil {
			continue // lock file or a file that is not ours
		}
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // released between ReadDir and ReadFile (only possible without the lock)
		}
		if err != nil {
			return nil, fmt.Errorf("read allocation %s: %w", name, err)
		}
		key, err := decodeKey(data)
		if err != nil {
			st.corrupt[addr] = err
			continue
		}
		st.byIP[addr] = key
	}
	return st, nil
}

// readLast returns the round-robin cursor, or the zero Addr when it is missing or unreadable
// (the allocator then starts from the beginning of the range, which is always safe).
func (s store) readLast() netip.Addr {
	data, err := os.ReadFile(filepath.Join(s.dir, lastFileName))
	if err != nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(strings.TrimSpace(string(data)))
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// writeAllocation records addr as owned by key, atomically: a process killed at any point leaves the file
// complete or absent. It is not durable against a crash of the node until syncAllocation.
func (s store) writeAllocation(addr netip.Addr, key Key) error {
	return s.writeAtomic(addr.String(), encodeKey(key))
}

// syncAllocation makes the allocation file of addr, and its name in the directory, durable. It needs no lock:
// the Allocator calls it after releasing the locks, so that concurrent allocations do not wait for each
// other's fsyncs (the file system commits them together).
func (s store) syncAllocation(addr netip.Addr) error {
	f, err := os.Open(filepath.Join(s.dir, addr.String()))
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // already released again: nothing to make durable
		return fmt.Errorf("fsync allocation %s: %w", addr, err)
	}
	return syncDir(s.dir)
}

// writeLast moves the round-robin cursor to addr. The cursor is only a preference (an unreadable
// one restarts from the beginning of the range, which is always safe), so it is never fsynced:
// only a crash of the whole node could lose a move. It is overwritten in place, padded to a fixed
// width so that no tail of a longer address survives, not replaced by a rename: on ext4, renaming
// over an existing file forces the new file's data out to disk (auto_da_alloc), which cost
// 1.5-5 ms per allocation, more than the rest of it. A write torn by a crash leaves an unparsable
// or another valid cursor, both safe.
func (s store) writeLast(addr netip.Addr) error {
	f, err := os.OpenFile(filepath.Join(s.dir, lastFileName), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", lastFileName, err)
	}
	_, err = f.WriteAt([]byte(fmt.Sprintf("%-*s\n", lastWidth, addr.String())), 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", lastFileName, err)
	}
	return nil
}

// lastWidth is the width the cursor is padded to: the longest textual IPv6 address.
const lastWidth = len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")

// remove deletes the allocation file of addr; a missing file is not an error. syncDir makes the
// removal durable.
func (s store) remove(addr netip.Addr) error {
	err := os.Remove(filepath.Join(s.dir, addr.String()))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove allocation %s: %w", addr, err)
	}
	return nil
}

// removeTemps deletes temporary files left behind by a process that died mid-write. It must
// only be called under the exclusive lock, when no write can be in flight.
func (s store) removeTemps() {
	matches, _ := filepath.Glob(filepath.Join(s.dir, tempPrefix+"*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

// writeAtomic replaces dir/name with data: write a temp file, rename it over the target, so a
// process killed at any point leaves either the old or the new content.
func (s store) writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, tempPrefix+name+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmpName := tmp.Name()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmpName, filepath.Join(s.dir, name))
	}
	if err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// syncDir fsyncs a directory so that renames and removals in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// encodeKey is the content of an allocation file.
func encodeKey(k Key) []byte {
	return []byte(k.ContainerID + "\n" + k.IfName + "\n")
}

// decodeKey parses the content of an allocation file.
func decodeKey(data []byte) (Key, error) {
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		return Key{}, fmt.Errorf("want 2 lines (container ID, interface name), found %d", len(lines))
	}
	k := Key{ContainerID: string(lines[0]), IfName: string(lines[1])}
	if err := k.validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}
