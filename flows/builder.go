package flows

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// A flow is written the way it reads:
//
//	NewFlow(SpoofGuard, 200).IP().InPort(3).EthSrc(mac).IPv4Src(ip).Then().Goto(Conntrack)
//
// Match methods add "field=value" terms; Then switches to actions; Goto, Drop and Done finish
// the flow. The output is ovs-ofctl -O OpenFlow15 text, with the match fields in the order
// ovs-ofctl prints them, so that dump-flows gives back the same text. The cookie is left 0: the
// Store stamps it. Invalid input (a nil MAC, a non-IPv4 address, two protocols) is a
// programming error and panics. The actions are in actions.go.

// MatchBuilder collects the match of a flow.
type MatchBuilder struct {
	table    Table
	priority uint16
	protocol string // "ip" or "arp"
	terms    []matchTerm
}

// matchTerm is one "field=value" of a match.
type matchTerm struct {
	field string
	text  string
}

// fieldOrder is the order in which ovs-ofctl prints match fields. Matches are written in this
// order so that a desired flow's Match is exactly the text dump-flows returns for it.
var fieldOrder = []string{
	"conj_id", "ct_state", "ct_mark", "ct_label", "protocol",
	"reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7",
	"reg8", "reg9", "reg10", "reg11", "reg12", "reg13", "reg14", "reg15",
	"in_port", "dl_src", "dl_dst", "nw_src", "arp_spa", "nw_dst", "arp_tpa", "arp_op", "arp_sha",
	"tp_src", "tp_dst",
}

// NewFlow starts a flow in table t at the given priority; without match terms it matches everything.
func NewFlow(t Table, priority uint16) *MatchBuilder {
	return &MatchBuilder{table: t, priority: priority}
}

func (m *MatchBuilder) setProtocol(p string) *MatchBuilder {
	if m.protocol != "" && m.protocol != p {
		panic(fmt.Sprintf("flows: table %s priority %d matches both %s and %s", m.table, m.priority, m.protocol, p))
	}
	m.protocol = p
	return m
}

// add appends "field=value"; the field is the text before "=".
func (m *MatchBuilder) add(format string, args ...any) *MatchBuilder {
	text := fmt.Sprintf(format, args...)
	field, _, _ := strings.Cut(text, "=")
	if !slices.Contains(fieldOrder, field) {
		panic(fmt.Sprintf("flows: match field %q has no place in fieldOrder", field))
	}
	m.terms = append(m.terms, matchTerm{field: field, text: text})
	return m
}

// matchText returns the match in ovs-ofctl's field order.
func (m *MatchBuilder) matchText() string {
	terms := slices.Clone(m.terms)
	if m.protocol != "" {
		terms = append(terms, matchTerm{field: "protocol", text: m.protocol})
	}
	slices.SortStableFunc(terms, func(a, b matchTerm) int {
		return slices.Index(fieldOrder, a.field) - slices.Index(fieldOrder, b.field)
	})
	texts := make([]string, len(terms))
	for i, t := range terms {
		texts[i] = t.text
	}
	return strings.Join(texts, ",")
}

// IP matches IPv4 packets.
func (m *MatchBuilder) IP() *MatchBuilder { return m.setProtocol("ip") }

// ARP matches ARP packets.
func (m *MatchBuilder) ARP() *MatchBuilder { return m.setProtocol("arp") }

// InPort matches the ingress OpenFlow port.
func (m *MatchBuilder) InPort(port uint32) *MatchBuilder { return m.add("in_port=%d", port) }

// EthSrc matches the Ethernet source address.
func (m *MatchBuilder) EthSrc(mac net.HardwareAddr) *MatchBuilder {
	return m.add("dl_src=%s", macText(mac))
}

// EthDst matches the Ethernet destination address.
func (m *MatchBuilder) EthDst(mac net.HardwareAddr) *MatchBuilder {
	return m.add("dl_dst=%s", macText(mac))
}

// IPv4Src matches the IPv4 source address (implies IP).
func (m *MatchBuilder) IPv4Src(ip net.IP) *MatchBuilder {
	return m.IP().add("nw_src=%s", ipv4Text(ip))
}

// IPv4Dst matches the IPv4 destination address (implies IP).
func (m *MatchBuilder) IPv4Dst(ip net.IP) *MatchBuilder {
	return m.IP().add("nw_dst=%s", ipv4Text(ip))
}

// IPv4SrcNet matches an IPv4 source subnet (implies IP).
func (m *MatchBuilder) IPv4SrcNet(n *net.IPNet) *MatchBuilder {
	return m.IP().add("nw_src=%s", cidrText(n))
}

// IPv4DstNet matches an IPv4 destination subnet (implies IP).
func (m *MatchBuilder) IPv4DstNet(n *net.IPNet) *MatchBuilder {
	return m.IP().add("nw_dst=%s", cidrText(n))
}

// ARP opcodes.
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// ARPOp matches the ARP opcode (implies ARP).
func (m *MatchBuilder) ARPOp(op uint16) *MatchBuilder { return m.ARP().add("arp_op=%d", op) }

// ARPSpa matches the ARP sender protocol address (implies ARP).
func (m *MatchBuilder) ARPSpa(ip net.IP) *MatchBuilder {
	return m.ARP().add("arp_spa=%s", ipv4Text(ip))
}

// ARPTpa matches the ARP target protocol address (implies ARP).
func (m *MatchBuilder) ARPTpa(ip net.IP) *MatchBuilder {
	return m.ARP().add("arp_tpa=%s", ipv4Text(ip))
}

// ARPSha matches the ARP sender hardware address (implies ARP).
func (m *MatchBuilder) ARPSha(mac net.HardwareAddr) *MatchBuilder {
	return m.ARP().add("arp_sha=%s", macText(mac))
}

// CtState matches conntrack state flags, e.g. "+new+trk".
func (m *MatchBuilder) CtState(flags string) *MatchBuilder { return m.add("ct_state=%s", flags) }

// Reg matches a register mark.
func (m *MatchBuilder) Reg(mark RegMark) *MatchBuilder { return m.add("%s", mark.Match()) }

// RegValue matches a register field holding v.
func (m *MatchBuilder) RegValue(f RegField, v uint32) *MatchBuilder {
	return m.add("%s", f.Match(v))
}

// CtMark matches a ct_mark or ct_label mark.
func (m *MatchBuilder) CtMark(mark CtMark) *MatchBuilder { return m.add("%s", mark.Match()) }

func macText(mac net.HardwareAddr) string {
	if len(mac) != 6 {
		panic(fmt.Sprintf("flows: %q is not an Ethernet MAC address", mac.String()))
	}
	return strings.ToLower(mac.String())
}

func ipv4Text(ip net.IP) string {
	v4 := ip.To4()
	if v4 == nil {
		panic(fmt.Sprintf("flows: %q is not an IPv4 address", ip.String()))
	}
	return v4.String()
}

func cidrText(n *net.IPNet) string {
	if n == nil || n.IP.To4() == nil {
		panic(fmt.Sprintf("flows: %v is not an IPv4 subnet", n))
	}
	ones, bits := n.Mask.Size()
	if bits == 8*net.IPv6len {
		ones -= 8 * (net.IPv6len - net.IPv4len) // an IPv4 mask stored in 16 bytes
	}
	if ones < 0 || bits == 0 {
		panic(fmt.Sprintf("flows: %v is not an IPv4 subnet", n))
	}
	return fmt.Sprintf("%s/%d", n.IP.Mask(n.Mask).To4(), ones)
}
