package ipam

import (
	"fmt"
	"net"
	"net/netip"
)

// addrRange describes one pod CIDR: which addresses are reserved and which may be handed
// out. All arithmetic uses netip.Addr, so IPv6 support only needs newAddrRange to learn the
// IPv6 reservations (there is no broadcast address there).
type addrRange struct {
	prefix    netip.Prefix // masked, e.g. 10.244.1.0/24
	gateway   netip.Addr   // first usable address, e.g. 10.244.1.1
	broadcast netip.Addr   // last address of the prefix, e.g. 10.244.1.255
	first     netip.Addr   // first allocatable address, e.g. 10.244.1.2
	last      netip.Addr   // last allocatable address, e.g. 10.244.1.254
}

// newAddrRange validates cidr and computes its reserved and allocatable addresses.
func newAddrRange(cidr *net.IPNet) (addrRange, error) {
	if cidr == nil {
		return addrRange{}, fmt.Errorf("pod CIDR is nil")
	}
	ones, bits := cidr.Mask.Size()
	if bits == 0 {
		return addrRange{}, fmt.Errorf("pod CIDR %s has a non-canonical mask", cidr)
	}
	addr, ok := netip.AddrFromSlice(cidr.IP)
	if !ok {
		return addrRange{}, fmt.Errorf("pod CIDR %s has an invalid address", cidr)
	}
	addr = addr.Unmap()
	if !addr.Is4() || bits != 32 {
		return addrRange{}, fmt.Errorf("pod CIDR %s: only IPv4 is supported", cidr)
	}
	if ones > 30 {
		return addrRange{}, fmt.Errorf("pod CIDR %s is too small: need at least a /30 "+
			"(network, gateway, one pod address, broadcast)", cidr)
	}
	prefix := netip.PrefixFrom(addr, ones).Masked()
	gateway := prefix.Addr().Next()
	broadcast := lastAddr(prefix)
	return addrRange{
		prefix:    prefix,
		gateway:   gateway,
		broadcast: broadcast,
		first:     gateway.Next(),
		last:      broadcast.Prev(),
	}, nil
}

// lastAddr returns the highest address of p (all host bits set).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// allocatable reports whether a may be handed out to a pod.
func (r addrRange) allocatable(a netip.Addr) bool {
	return a.IsValid() && a.Compare(r.first) >= 0 && a.Compare(r.last) <= 0
}

// next returns the allocatable address following a, wrapping from the end of the range to
// its start. An address outside the allocatable range is followed by the range's start.
func (r addrRange) next(a netip.Addr) netip.Addr {
	if !r.allocatable(a) || a == r.last {
		return r.first
	}
	return a.Next()
}

// findFree walks the range round-robin, starting right after lastUsed, and returns the
// first address for which inUse is false. ok is false when every address is in use.
func (r addrRange) findFree(lastUsed netip.Addr, inUse func(netip.Addr) bool) (netip.Addr, bool) {
	start := r.next(lastUsed)
	for a := start; ; {
		if !inUse(a) {
			return a, true
		}
		a = r.next(a)
		if a == start {
			return netip.Addr{}, false
		}
	}
}

// size is the number of allocatable addresses (only meaningful for IPv4-sized ranges).
func (r addrRange) size() uint64 {
	return uint64(1)<<(r.prefix.Addr().BitLen()-r.prefix.Bits()) - 3
}
