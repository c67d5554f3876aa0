package flows

import (
	"fmt"
	"net"
	"strings"
)

// Transport-layer matches and the actions Service load balancing needs beyond the core builder:
// the L4 protocol and destination port, NAT inside ct(...), resubmit and learn.

// Protocol is the transport protocol of a Service port.
type Protocol string

// The transport protocols of Service ports.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// Valid says whether p is TCP, UDP or SCTP.
func (p Protocol) Valid() bool { return p == TCP || p == UDP || p == SCTP }

// ipProto is the IP protocol number of p.
func (p Protocol) ipProto() int {
	switch p {
	case TCP:
		return 6
	case UDP:
		return 17
	case SCTP:
		return 132
	}
	panic(fmt.Sprintf("flows: %q is not a transport protocol (tcp, udp, sctp)", string(p)))
}

// dstField is the NXM/OXM name of p's destination port, as learn specs use it.
func (p Protocol) dstField() string {
	switch p {
	case TCP:
		return "NXM_OF_TCP_DST[]"
	case UDP:
		return "NXM_OF_UDP_DST[]"
	case SCTP:
		return "OXM_OF_SCTP_DST[]"
	}
	panic(fmt.Sprintf("flows: %q is not a transport protocol (tcp, udp, sctp)", string(p)))
}

// L4 matches the transport protocol p (which implies IP). It refines an earlier IP match, so
// call the IP matches (IPv4Dst, ...) before it: a later IP() would contradict "tcp".
func (m *MatchBuilder) L4(p Protocol) *MatchBuilder {
	if !p.Valid() {
		panic(fmt.Sprintf("flows: %q is not a transport protocol (tcp, udp, sctp)", string(p)))
	}
	if m.protocol != "" && m.protocol != "ip" && m.protocol != string(p) {
		panic(fmt.Sprintf("flows: table %s priority %d matches both %s and %s", m.table, m.priority, m.protocol, p))
	}
	m.protocol = string(p)
	return m
}

// L4Dst matches the transport destination port (after L4).
func (m *MatchBuilder) L4Dst(port uint16) *MatchBuilder {
	m.needL4()
	return m.add("tp_dst=%d", port)
}

// L4DstMasked matches the bits of the transport destination port selected by mask (after L4).
func (m *MatchBuilder) L4DstMasked(value, mask uint16) *MatchBuilder {
	m.needL4()
	return m.add("tp_dst=%#x/%#x", value&mask, mask)
}

func (m *MatchBuilder) needL4() {
	if !Protocol(m.protocol).Valid() {
		panic(fmt.Sprintf("flows: table %s priority %d matches a port without a transport protocol", m.table, m.priority))
	}
}

// CTDNAT rewrites the destination of a new connection to ip:port.
func CTDNAT(ip net.IP, port uint16) CTOption {
	text := fmt.Sprintf("nat(dst=%s:%d)", ipv4Text(ip), port)
	return func() string { return text }
}

// CTSNAT rewrites the source of a new connection to ip, with a source port in [minPort, maxPort]
// (both 0: any port).
func CTSNAT(ip net.IP, minPort, maxPort uint16) CTOption {
	text := fmt.Sprintf("nat(src=%s)", ipv4Text(ip))
	if minPort != 0 || maxPort != 0 {
		text = fmt.Sprintf("nat(src=%s:%d-%d)", ipv4Text(ip), minPort, maxPort)
	}
	return func() string { return text }
}

// MoveToCtMark returns the ct(exec(...)) action that copies a one-bit register field into a
// ct_mark field of the same width.
func MoveToCtMark(src RegField, dst CtField) string {
	if dst.Label || src.End-src.Start != dst.End-dst.Start {
		panic(fmt.Sprintf("flows: cannot move %s into ct_mark[%d..%d]", src, dst.Start, dst.End))
	}
	bits := fmt.Sprintf("[%d..%d]", dst.Start, dst.End)
	if dst.Start == dst.End {
		bits = fmt.Sprintf("[%d]", dst.Start)
	}
	return fmt.Sprintf("move:%s->NXM_NX_CT_MARK%s", src, bits)
}

// Resubmit processes the packet in table t and then continues with the next action. Unlike
// Goto it may go back (a group bucket has no table of its own).
func (a *ActionBuilder) Resubmit(t Table) *ActionBuilder { return a.add("resubmit(,%d)", t.ID) }

// Learn adds a learn(...) action (see LearnSpec).
func (a *ActionBuilder) Learn(spec LearnSpec) *ActionBuilder { return a.add("%s", spec.text()) }

// LearnSpec is a learn action that remembers a Service client's endpoint: the learned flow, in
// Table, matches the client (IP source), the entry point (IP destination, protocol, destination
// port) and loads the endpoint registers and EndpointSelected.
type LearnSpec struct {
	Table       Table
	Protocol    Protocol
	IdleTimeout uint16 // seconds without a new connection before the learned flow expires
	Priority    uint16
	Cookie      uint64 // the learned flows' cookie; delete_learned removes them with this flow
}

func (l LearnSpec) text() string {
	return fmt.Sprintf("learn(table=%d,idle_timeout=%d,priority=%d,delete_learned,cookie=%#x,eth_type=0x800,nw_proto=%d,%s,NXM_OF_IP_DST[],NXM_OF_IP_SRC[],"+
		"load:%s->%s,load:%s->%s,load:%#x->%s)",
		l.Table.ID, l.IdleTimeout, l.Priority, l.Cookie, l.Protocol.ipProto(), l.Protocol.dstField(),
		EndpointIPField, EndpointIPField, EndpointPortField, EndpointPortField,
		EndpointSelected.Value, EndpointStateField)
}

// Actions returns the action text so far, for a group bucket (which has no match and no table).
func (a *ActionBuilder) Actions() string { return strings.Join(a.actions, ",") }

// Bucket starts the actions of a group bucket.
func Bucket() *ActionBuilder { return &ActionBuilder{match: &MatchBuilder{}} }
