package flows

import (
	"fmt"
	"net"
	"strings"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Then ends the match; the actions follow.
func (m *MatchBuilder) Then() *ActionBuilder { return &ActionBuilder{match: m} }

// ActionBuilder collects the actions of a flow.
type ActionBuilder struct {
	match   *MatchBuilder
	actions []string
}

func (a *ActionBuilder) add(format string, args ...any) *ActionBuilder {
	a.actions = append(a.actions, fmt.Sprintf(format, args...))
	return a
}

// NXMField names a packet field for move actions.
type NXMField string

// Packet fields used by move actions.
const (
	FieldEthSrc NXMField = "NXM_OF_ETH_SRC[]"
	FieldEthDst NXMField = "NXM_OF_ETH_DST[]"
	FieldARPSha NXMField = "NXM_NX_ARP_SHA[]"
	FieldARPTha NXMField = "NXM_NX_ARP_THA[]"
	FieldARPSpa NXMField = "NXM_OF_ARP_SPA[]"
	FieldARPTpa NXMField = "NXM_OF_ARP_TPA[]"
)

// Move copies field src into field dst.
func (a *ActionBuilder) Move(src, dst NXMField) *ActionBuilder {
	return a.add("move:%s->%s", src, dst)
}

// SetEthSrc sets the Ethernet source address.
func (a *ActionBuilder) SetEthSrc(mac net.HardwareAddr) *ActionBuilder {
	return a.add("set_field:%s->eth_src", macText(mac))
}

// SetEthDst sets the Ethernet destination address.
func (a *ActionBuilder) SetEthDst(mac net.HardwareAddr) *ActionBuilder {
	return a.add("set_field:%s->eth_dst", macText(mac))
}

// SetARPOp sets the ARP opcode.
func (a *ActionBuilder) SetARPOp(op uint16) *ActionBuilder { return a.add("set_field:%d->arp_op", op) }

// SetARPSha sets the ARP sender hardware address.
func (a *ActionBuilder) SetARPSha(mac net.HardwareAddr) *ActionBuilder {
	return a.add("set_field:%s->arp_sha", macText(mac))
}

// SetARPSpa sets the ARP sender protocol address.
func (a *ActionBuilder) SetARPSpa(ip net.IP) *ActionBuilder {
	return a.add("set_field:%s->arp_spa", ipv4Text(ip))
}

// Load sets a register mark.
func (a *ActionBuilder) Load(mark RegMark) *ActionBuilder { return a.add("%s", mark.Load()) }

// LoadValue stores v in a register field.
func (a *ActionBuilder) LoadValue(f RegField, v uint32) *ActionBuilder {
	return a.add("%s", f.Load(v))
}

// DecTTL decrements the IP TTL (the packet is dropped when it reaches zero).
func (a *ActionBuilder) DecTTL() *ActionBuilder { return a.add("dec_ttl") }

// Output sends the packet to an OpenFlow port.
func (a *ActionBuilder) Output(port uint32) *ActionBuilder { return a.add("output:%d", port) }

// OutputReg sends the packet to the port held in a register field.
func (a *ActionBuilder) OutputReg(f RegField) *ActionBuilder { return a.add("output:%s", f) }

// OutputInPort sends the packet back out of its ingress port.
func (a *ActionBuilder) OutputInPort() *ActionBuilder { return a.add("IN_PORT") }

// Group sends the packet to an OpenFlow group.
func (a *ActionBuilder) Group(id uint32) *ActionBuilder { return a.add("group:%d", id) }

// CTOption is one argument of a ct(...) action.
type CTOption func() string

// CTCommit commits the connection to conntrack.
func CTCommit() CTOption { return func() string { return "commit" } }

// CTTable recirculates the packet to table t after conntrack.
func CTTable(t Table) CTOption { return func() string { return fmt.Sprintf("table=%d", t.ID) } }

// CTZone sets the conntrack zone.
func CTZone(zone uint16) CTOption { return func() string { return fmt.Sprintf("zone=%d", zone) } }

// CTNAT applies the connection's NAT (un-NAT for replies).
func CTNAT() CTOption { return func() string { return "nat" } }

// CTExec runs actions (such as CtMark.Set) on the committed connection.
func CTExec(actions ...string) CTOption {
	return func() string { return "exec(" + strings.Join(actions, ",") + ")" }
}

// CT sends the packet through conntrack: ct(commit,table=..,zone=..,nat,exec(..)) in the order given.
func (a *ActionBuilder) CT(options ...CTOption) *ActionBuilder {
	args := make([]string, len(options))
	for i, o := range options {
		args[i] = o()
	}
	return a.add("ct(%s)", strings.Join(args, ","))
}

// Goto continues the pipeline in table t and finishes the flow.
func (a *ActionBuilder) Goto(t Table) openflow.Flow {
	if t.ID <= a.match.table.ID {
		panic(fmt.Sprintf("flows: goto_table from %s to %s does not go forward", a.match.table, t))
	}
	return a.add("goto_table:%d", t.ID).Done()
}

// Drop finishes the flow with no action: the packet is dropped.
func (a *ActionBuilder) Drop() openflow.Flow {
	if len(a.actions) != 0 {
		panic(fmt.Sprintf("flows: table %s priority %d drops after actions %v", a.match.table, a.match.priority, a.actions))
	}
	return a.add("drop").Done()
}

// Done finishes the flow with the actions so far.
func (a *ActionBuilder) Done() openflow.Flow {
	m := a.match
	return openflow.Flow{
		Table:    m.table.ID,
		Priority: m.priority,
		Match:    m.matchText(),
		Actions:  strings.Join(a.actions, ","),
	}
}

// SetTunnelDst sets the tunnel destination (the peer node's transport address) of a packet that
// will be output to a flow-based tunnel port (options:remote_ip=flow): tun_dst for IPv4,
// tun_ipv6_dst for IPv6.
func (a *ActionBuilder) SetTunnelDst(ip net.IP) *ActionBuilder {
	if v4 := ip.To4(); v4 != nil {
		return a.add("set_field:%s->tun_dst", v4)
	}
	if ip.To16() == nil {
		panic(fmt.Sprintf("flows: tunnel destination %q is not an IP address", ip.String()))
	}
	return a.add("set_field:%s->tun_ipv6_dst", ip)
}

// SetTunnelID sets the tunnel key (Geneve VNI, VXLAN VNI) of a packet that will be output to a
// flow-based tunnel port (options:key=flow).
func (a *ActionBuilder) SetTunnelID(id uint64) *ActionBuilder {
	return a.add("set_field:%s->tun_id", hexText(id))
}
