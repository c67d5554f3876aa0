package droplog

import (
	"net/netip"
	"strconv"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Endpoint is the address[:port] of one side of a packet: ports for TCP, UDP and SCTP, none otherwise.
func Endpoint(p openflow.PacketIn, src bool) string {
	addr, port := p.Fields["nw_dst"], p.Fields["tp_dst"]
	if src {
		addr, port = p.Fields["nw_src"], p.Fields["tp_src"]
	}
	switch p.Proto {
	case "tcp", "udp", "sctp":
		if a, err := netip.ParseAddr(addr); err == nil && port != "" {
			if n, err := strconv.ParseUint(port, 10, 16); err == nil {
				return netip.AddrPortFrom(a, uint16(n)).String()
			}
		}
	}
	return addr
}

// Addresses are the packet's source and destination addresses.
func Addresses(p openflow.PacketIn) (src, dst netip.Addr, ok bool) {
	s, err1 := netip.ParseAddr(p.Fields["nw_src"])
	d, err2 := netip.ParseAddr(p.Fields["nw_dst"])
	return s, d, err1 == nil && err2 == nil
}
