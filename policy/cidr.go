package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// maxExcepts bounds the except list of one ipBlock. Flattening yields at most (address bits) prefixes per except,
// so the bound keeps a hostile policy from producing millions of flows.
const maxExcepts = 1024

// parseIPBlock flattens an ipBlock into the non-overlapping prefixes it allows: cidr minus every except. Host bits
// are masked off (10.0.0.1/8 is 10.0.0.0/8). Excepts outside cidr or of the other family cut nothing out, which
// is exactly set subtraction (the API server rejects such excepts anyway).
func parseIPBlock(b *networkingv1.IPBlock) ([]netip.Prefix, error) {
	cidr, err := parsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("ipBlock.cidr: %w", err)
	}
	if len(b.Except) > maxExcepts {
		return nil, fmt.Errorf("ipBlock.except: %d entries, more than the %d supported", len(b.Except), maxExcepts)
	}
	excepts := make([]netip.Prefix, 0, len(b.Except))
	for i, e := range b.Except {
		p, err := parsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("ipBlock.except[%d]: %w", i, err)
		}
		if p.Addr().Is4() == cidr.Addr().Is4() && p.Overlaps(cidr) {
			excepts = append(excepts, p)
		}
	}
	out := subtract(cidr, excepts, nil)
	slices.SortFunc(out, comparePrefix)
	return out, nil
}

// parsePrefix parses a CIDR, masking host bits and unmapping IPv4-mapped IPv6 addresses.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// subtract appends to out the prefixes covering p minus the union of excepts, splitting p in halves only where an
// except cuts into it; the result has at most bits(p) prefixes per except.
func subtract(p netip.Prefix, excepts []netip.Prefix, out []netip.Prefix) []netip.Prefix {
	var inside []netip.Prefix
	for _, e := range excepts {
		if !e.Overlaps(p) {
			continue
		}
		if e.Bits() <= p.Bits() { // e covers p entirely
			return out
		}
		inside = append(inside, e)
	}
	if len(inside) == 0 {
		return append(out, p)
	}
	lo, hi := halves(p)
	out = subtract(lo, inside, out)
	return subtract(hi, inside, out)
}

// halves splits p (not a host prefix) into its two sub-prefixes one bit longer.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits()
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	pos := off + bits
	b[pos/8] |= 0x80 >> (pos % 8)
	hi := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		hi = hi.Unmap()
	}
	return netip.PrefixFrom(p.Addr(), bits+1), netip.PrefixFrom(hi, bits+1)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// hostPrefix is the single-address prefix of ip.
func hostPrefix(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

// containsAddr reports whether one of prefixes contains ip.
func containsAddr(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
