// Package openflow programs an Open vSwitch bridge over OpenFlow 1.5 by driving ovs-ofctl and
// ovs-appctl (through github.com/digitalocean/go-openvswitch where it fits). Every change is one
// atomic `ovs-ofctl bundle` of flow and group mods.
package openflow

import "fmt"

// Flow is one OpenFlow flow in ovs-ofctl syntax. Match and Actions are ovs-ofctl text
// ("ip,in_port=3,nw_src=10.0.0.2" and "goto_table:20"). Table is the numeric table id.
type Flow struct {
	Table    uint8
	Priority uint16
	Cookie   uint64
	Match    string // without table, priority and cookie; "" matches everything
	Actions  string

	// Filled in by DumpFlows only.
	Packets uint64
	Bytes   uint64
}

// Key identifies a flow inside a bridge the way OpenFlow strict matching does:
// table, priority and match. Two flows with the same key cannot coexist.
func (f Flow) Key() string {
	return fmt.Sprintf("table=%d,priority=%d,%s", f.Table, f.Priority, f.Match)
}

// matchPart is the "table=..,priority=..[,match]" prefix shared by add and delete lines.
func (f Flow) matchPart() string {
	if f.Match == "" {
		return fmt.Sprintf("table=%d,priority=%d", f.Table, f.Priority)
	}
	return fmt.Sprintf("table=%d,priority=%d,%s", f.Table, f.Priority, f.Match)
}

// GroupType is an OpenFlow group type.
type GroupType string

const (
	GroupSelect   GroupType = "select"
	GroupAll      GroupType = "all"
	GroupIndirect GroupType = "indirect"
)

// Bucket is one group bucket; Actions is ovs-ofctl action text.
type Bucket struct {
	ID      uint32
	Weight  uint16 // 0 means the OVS default (100)
	Actions string
}

// Group is an OpenFlow group.
type Group struct {
	ID   uint32
	Type GroupType
	// SelectionMethod of a select group ("dp_hash", "hash"; empty: OVS's default, which hashes the
	// L3/L4 headers symmetrically and leaves out UDP ports). OpenFlow 1.5.
	SelectionMethod string
	Buckets         []Bucket
}

// ModOp says what a Mod does.
type ModOp int

const (
	// AddFlow adds the flow, replacing an existing flow with the same Key (and its cookie).
	AddFlow ModOp = iota
	// ModifyFlow replaces the actions of the flow with the same Key (strict); the cookie is kept.
	ModifyFlow
	// DeleteFlow removes the flow with the same Key (strict).
	DeleteFlow
	// AddGroup adds the group; it fails if it exists.
	AddGroup
	// ModifyGroup replaces the buckets of an existing group.
	ModifyGroup
	// DeleteGroup removes the group (and the flows that point at it).
	DeleteGroup
)

// Mod is one line of a bundle: exactly one of Flow or Group is used, depending on Op.
type Mod struct {
	Op    ModOp
	Flow  Flow
	Group Group
}
