package ovsdb

import (
	"context"
	"fmt"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

// Datapath types of a bridge (Bridge.datapath_type).
const (
	// DatapathSystem is the kernel datapath (openvswitch kernel module). OVS treats an empty type the same way.
	DatapathSystem = "system"
	// DatapathNetdev is the userspace datapath, for machines without the openvswitch kernel module.
	DatapathNetdev = "netdev"
)

// maxFlowTableID is the highest OpenFlow table id a Flow_Table row can be attached to (Bridge.flow_tables keys).
const maxFlowTableID = 254

// bridgeProtocols are the OpenFlow versions a Switchyard bridge speaks: 1.5 for the agent, 1.3 and 1.4 for tools
// and --bundle (OpenFlow 1.4+).
var bridgeProtocols = []vswitchd.BridgeProtocols{
	vswitchd.BridgeProtocolsOpenflow13, vswitchd.BridgeProtocolsOpenflow14, vswitchd.BridgeProtocolsOpenflow15,
}

// BridgeSpec is the desired state of a bridge. Every bridge gets protocols OpenFlow13-15 and, unless Standalone is
// set, fail_mode=secure (no flows: no forwarding).
type BridgeSpec struct {
	Name string
	// Standalone sets fail_mode=standalone: without a controller vswitchd forwards as a learning switch (its own
	// NORMAL flow, restored by vswitchd itself after a restart). For a bridge that must forward before and
	// without any agent, like the physical bridge that carries the node's address.
	Standalone bool
	// DatapathType is DatapathSystem, DatapathNetdev or empty (system).
	DatapathType string
	// TableNames names OpenFlow tables (Flow_Table rows), shown by `ovs-ofctl --names dump-flows`. Tables not
	// listed lose their name.
	TableNames map[uint8]string
	// ExternalIDs and OtherConfig are merged into the bridge's columns (see mapMutations): listed keys get these
	// values, a key with an empty value is removed, other keys are kept.
	ExternalIDs map[string]string
	OtherConfig map[string]string
}

func (s BridgeSpec) failMode() vswitchd.BridgeFailMode {
	if s.Standalone {
		return vswitchd.BridgeFailModeStandalone
	}
	return vswitchd.BridgeFailModeSecure
}

func (s BridgeSpec) validate() error {
	if s.Name == "" {
		return fmt.Errorf("bridge spec has no name")
	}
	switch s.DatapathType {
	case "", DatapathSystem, DatapathNetdev:
	default:
		return fmt.Errorf("bridge %q: unknown datapath type %q (want %q or %q)", s.Name, s.DatapathType,
			DatapathSystem, DatapathNetdev)
	}
	for id, name := range s.TableNames {
		if id > maxFlowTableID {
			return fmt.Errorf("bridge %q: table %d (%q) is above the highest nameable table %d", s.Name, id, name,
				maxFlowTableID)
		}
	}
	return nil
}

// EnsureBridge creates the bridge, with its local internal port, or updates it to match spec, and lists it in
// Open_vSwitch.bridges; all in one transaction. A bridge that already matches is left untouched.
func (c *Client) EnsureBridge(ctx context.Context, spec BridgeSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	return c.converge(ctx, "ensure bridge "+spec.Name, c.vswitchdPlan(func(ctx context.Context) ([]ovsdb.Operation, error) {
		root, err := c.root(ctx)
		if err != nil {
			return nil, err
		}
		br, err := c.bridgeByName(ctx, spec.Name)
		if err != nil {
			return nil, err
		}
		if br == nil {
			return c.createBridgeOps(root, spec)
		}
		return c.updateBridgeOps(ctx, root, br, spec)
	}))
}

func (c *Client) createBridgeOps(root *vswitchd.OpenvSwitch, spec BridgeSpec) ([]ovsdb.Operation, error) {
	var b opsBuilder
	// The bridge's local port, as `ovs-vsctl add-br` creates it: vswitchd makes it the OpenFlow LOCAL port.
	iface := &vswitchd.Interface{UUID: "localiface", Name: spec.Name, Type: "internal"}
	port := &vswitchd.Port{UUID: "localport", Name: spec.Name, Interfaces: []string{iface.UUID}}
	b.add(c.ovs.Create(iface))
	b.add(c.ovs.Create(port))
	tables := map[int]string{}
	for _, id := range sortedKeys(spec.TableNames) {
		name := spec.TableNames[id]
		t := &vswitchd.FlowTable{UUID: fmt.Sprintf("table%d", id), Name: &name}
		b.add(c.ovs.Create(t))
		tables[int(id)] = t.UUID
	}
	failMode := spec.failMode()
	br := &vswitchd.Bridge{
		UUID:         "newbridge",
		Name:         spec.Name,
		DatapathType: spec.DatapathType,
		FailMode:     &failMode,
		Protocols:    bridgeProtocols,
		FlowTables:   tables,
		ExternalIDs:  withoutEmpty(spec.ExternalIDs),
		OtherConfig:  withoutEmpty(spec.OtherConfig),
		Ports:        []string{port.UUID},
	}
	b.add(c.ovs.Create(br))
	b.add(c.ovs.Where(root).Mutate(root, model.Mutation{
		Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{br.UUID},
	}))
	return b.result()
}

func (c *Client) updateBridgeOps(ctx context.Context, root *vswitchd.OpenvSwitch, br *vswitchd.Bridge,
	spec BridgeSpec) ([]ovsdb.Operation, error) {
	var b opsBuilder
	want := &vswitchd.Bridge{UUID: br.UUID}
	var fields []any
	if br.DatapathType != spec.DatapathType {
		want.DatapathType = spec.DatapathType
		fields = append(fields, &want.DatapathType)
	}
	if failMode := spec.failMode(); br.FailMode == nil || *br.FailMode != failMode {
		want.FailMode = &failMode
		fields = append(fields, &want.FailMode)
	}
	if !sameSet(br.Protocols, bridgeProtocols) {
		want.Protocols = bridgeProtocols
		fields = append(fields, &want.Protocols)
	}
	tables, changed, err := c.flowTableOps(ctx, &b, br.FlowTables, spec.TableNames)
	if err != nil {
		return nil, err
	}
	if changed {
		want.FlowTables = tables
		fields = append(fields, &want.FlowTables)
	}
	if len(fields) > 0 {
		b.add(c.ovs.Where(want).Update(want, fields...))
	}
	muts := append(mapMutations(&want.ExternalIDs, br.ExternalIDs, spec.ExternalIDs),
		mapMutations(&want.OtherConfig, br.OtherConfig, spec.OtherConfig)...)
	if len(muts) > 0 {
		b.add(c.ovs.Where(want).Mutate(want, muts...))
	}
	if !contains(root.Bridges, br.UUID) {
		b.add(c.ovs.Where(root).Mutate(root, model.Mutation{
			Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{br.UUID},
		}))
	}
	return b.result()
}

// flowTableOps adds to b the operations that give the bridge's tables the wanted names: renaming the existing
// Flow_Table rows, inserting missing ones. It returns the bridge's new flow_tables column and whether it changed.
func (c *Client) flowTableOps(ctx context.Context, b *opsBuilder, current map[int]string,
	want map[uint8]string) (map[int]string, bool, error) {
	tables := map[int]string{}
	changed := len(current) != len(want)
	for _, id := range sortedKeys(want) {
		name := want[id]
		if uuid, ok := current[int(id)]; ok {
			t, err := c.flowTableByUUID(ctx, uuid)
			if err != nil {
				return nil, false, err
			}
			if t != nil {
				tables[int(id)] = uuid
				if t.Name == nil || *t.Name != name {
					renamed := &vswitchd.FlowTable{UUID: uuid, Name: &name}
					b.add(c.ovs.Where(renamed).Update(renamed, &renamed.Name))
				}
				continue
			}
		}
		t := &vswitchd.FlowTable{UUID: fmt.Sprintf("table%d", id), Name: &name}
		b.add(c.ovs.Create(t))
		tables[int(id)] = t.UUID
		changed = true
	}
	return tables, changed, nil
}

// DeleteBridge removes the bridge with all its ports. A missing bridge is not an error.
func (c *Client) DeleteBridge(ctx context.Context, name string) error {
	return c.converge(ctx, "delete bridge "+name, c.vswitchdPlan(func(ctx context.Context) ([]ovsdb.Operation, error) {
		br, err := c.bridgeByName(ctx, name)
		if err != nil || br == nil {
			return nil, err
		}
		root, err := c.root(ctx)
		if err != nil {
			return nil, err
		}
		// Ports, interfaces and Flow_Table rows are not root rows: the server deletes them with the bridge.
		var b opsBuilder
		b.add(c.ovs.Where(root).Mutate(root, model.Mutation{
			Field: &root.Bridges, Mutator: ovsdb.MutateOperationDelete, Value: []string{br.UUID},
		}))
		b.add(c.ovs.Where(br).Delete())
		return b.result()
	}))
}

// SetBridgeExternalIDs merges ids into the bridge's external_ids: listed keys get these values, a key with an
// empty value is removed, other keys are kept.
func (c *Client) SetBridgeExternalIDs(ctx context.Context, bridge string, ids map[string]string) error {
	return c.converge(ctx, "set external_ids of bridge "+bridge, func(ctx context.Context) ([]ovsdb.Operation, error) {
		br, err := c.bridgeByName(ctx, bridge)
		if err != nil {
			return nil, err
		}
		if br == nil {
			return nil, fmt.Errorf("bridge %q does not exist", bridge)
		}
		muts := mapMutations(&br.ExternalIDs, br.ExternalIDs, ids)
		if len(muts) == 0 {
			return nil, nil
		}
		return c.ovs.Where(br).Mutate(br, muts...)
	})
}

// BridgeExternalIDs returns the bridge's external_ids from the cache (nil if there is no such bridge).
func (c *Client) BridgeExternalIDs(bridge string) map[string]string {
	ctx, cancel := readContext()
	defer cancel()
	br, err := c.bridgeByName(ctx, bridge)
	if err != nil || br == nil {
		return nil
	}
	return br.ExternalIDs
}
