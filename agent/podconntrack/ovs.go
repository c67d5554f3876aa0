package podconntrack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Appctl runs one ovs-vswitchd unixctl command (what `ovs-appctl <method> <params...>` sends).
type Appctl func(ctx context.Context, method string, params ...string) (string, error)

// OVS is the Datapath of an ovs-vswitchd: its conntrack zones, through unixctl commands.
type OVS struct {
	Appctl Appctl
	Zones  []uint16 // the zones the agent uses (the pipeline's and the SNAT zone)
	// FlushAddrIn removes every entry of ip in zone (openflow.Client.FlushConntrack).
	FlushAddrIn func(ctx context.Context, zone uint16, ip netip.Addr) error
}

// Conns dumps every zone.
func (o OVS) Conns(ctx context.Context) ([]Conn, error) {
	var out []Conn
	for _, z := range o.Zones {
		text, err := o.Appctl(ctx, "dpctl/dump-conntrack", fmt.Sprintf("zone=%d", z))
		if err != nil {
			return nil, err
		}
		out = append(out, ParseConns(text, z)...)
	}
	return out, nil
}

// FlushAddr flushes ip in every zone.
func (o OVS) FlushAddr(ctx context.Context, ip netip.Addr) error {
	var errs []error
	for _, z := range o.Zones {
		errs = append(errs, o.FlushAddrIn(ctx, z, ip))
	}
	return errors.Join(errs...)
}

// FlushTuple flushes the entry of zone whose original tuple is t (a full 5-tuple: a lookup, not a scan).
func (o OVS) FlushTuple(ctx context.Context, zone uint16, t Tuple) error {
	proto, ok := protoNumbers[t.Proto]
	if !ok {
		return fmt.Errorf("podconntrack: no protocol number for %q", t.Proto)
	}
	_, err := o.Appctl(ctx, "dpctl/flush-conntrack", fmt.Sprintf("zone=%d", zone),
		fmt.Sprintf("ct_nw_src=%s,ct_nw_dst=%s,ct_nw_proto=%d,ct_tp_src=%d,ct_tp_dst=%d", t.Src, t.Dst, proto, t.Sport, t.Dport))
	return err
}

var protoNumbers = map[string]int{"tcp": 6, "udp": 17, "sctp": 132}

// connRe reads an IPv4 TCP, UDP or SCTP entry of dpctl/dump-conntrack: both tuples in full.
var connRe = regexp.MustCompile(`^(tcp|udp|sctp),orig=\(src=([0-9.]+),dst=([0-9.]+),sport=(\d+),dport=(\d+)\),reply=\(src=([0-9.]+),dst=([0-9.]+),sport=(\d+),dport=(\d+)\)`)

// ParseConns reads dpctl/dump-conntrack's output for zone; other protocols and families are skipped.
func ParseConns(text string, zone uint16) []Conn {
	var out []Conn
	for _, line := range strings.Split(text, "\n") {
		m := connRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		orig, ok1 := tuple(m[1], m[2], m[3], m[4], m[5])
		reply, ok2 := tuple(m[1], m[6], m[7], m[8], m[9])
		if ok1 && ok2 {
			out = append(out, Conn{Zone: zone, Orig: orig, Reply: reply})
		}
	}
	return out
}

func tuple(proto, src, dst, sport, dport string) (Tuple, bool) {
	s, err1 := netip.ParseAddr(src)
	d, err2 := netip.ParseAddr(dst)
	sp, err3 := strconv.ParseUint(sport, 10, 16)
	dp, err4 := strconv.ParseUint(dport, 10, 16)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Tuple{}, false
	}
	return Tuple{Proto: proto, Src: s, Dst: d, Sport: uint16(sp), Dport: uint16(dp)}, true
}
