package ovsdb

import (
	"context"
	"fmt"
	"maps"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

// Interface types (Interface.type) Switchyard uses.
const (
	// InterfaceSystem is an existing network device, e.g. the node side of a pod's veth pair.
	InterfaceSystem = ""
	// InterfaceInternal is a device vswitchd creates (a tap device on the netdev datapath).
	InterfaceInternal = "internal"
	// InterfaceGeneve and InterfaceVXLAN are tunnel ports; with options remote_ip=flow and key=flow the flows
	// choose the peer and the VNI.
	InterfaceGeneve = "geneve"
	InterfaceVXLAN  = "vxlan"
)

// maxOfportRequest is the highest OpenFlow port number a port can ask for (Interface.ofport_request).
const maxOfportRequest = 65279

// PortSpec is the desired state of a port with its single interface of the same name.
type PortSpec struct {
	Bridge string
	Name   string
	// Type is one of the Interface* constants (or any other type vswitchd knows).
	Type string
	// OfportRequest asks vswitchd for this OpenFlow port number; 0: vswitchd picks one.
	OfportRequest int
	// MAC is the MAC address of an internal port (Interface.mac); empty: vswitchd picks one.
	MAC string
	// MTURequest asks for this MTU (Interface.mtu_request); 0: the device's own MTU.
	MTURequest int
	// Options are the interface's options (e.g. remote_ip=flow, key=flow), set exactly as given.
	Options map[string]string
	// ExternalIDs are merged into the Port row's external_ids (see SetPortExternalIDs).
	ExternalIDs map[string]string
}

func (s PortSpec) validate() error {
	if s.Bridge == "" || s.Name == "" {
		return fmt.Errorf("port spec needs a bridge and a name (got bridge %q, name %q)", s.Bridge, s.Name)
	}
	if s.OfportRequest < 0 || s.OfportRequest > maxOfportRequest {
		return fmt.Errorf("port %q: ofport request %d is outside 1..%d", s.Name, s.OfportRequest, maxOfportRequest)
	}
	if s.MTURequest < 0 {
		return fmt.Errorf("port %q: negative MTU request %d", s.Name, s.MTURequest)
	}
	return nil
}

// EnsurePort creates the port and its interface on the bridge, or updates them to match spec, in one transaction.
// Type, ofport_request, mac, mtu_request and options are set exactly as in spec; external_ids are merged. A port
// of that name on another bridge is an error.
func (c *Client) EnsurePort(ctx context.Context, spec PortSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	return c.converge(ctx, "ensure port "+spec.Name, c.vswitchdPlan(func(ctx context.Context) ([]ovsdb.Operation, error) {
		br, err := c.bridgeByName(ctx, spec.Bridge)
		if err != nil {
			return nil, err
		}
		if br == nil {
			return nil, fmt.Errorf("bridge %q does not exist", spec.Bridge)
		}
		port, err := c.portByName(ctx, spec.Name)
		if err != nil {
			return nil, err
		}
		if port == nil {
			return c.createPortOps(br, spec)
		}
		return c.updatePortOps(ctx, br, port, spec)
	}))
}

func (c *Client) createPortOps(br *vswitchd.Bridge, spec PortSpec) ([]ovsdb.Operation, error) {
	var b opsBuilder
	iface := &vswitchd.Interface{UUID: "newiface", Name: spec.Name}
	desiredInterface(iface, spec)
	port := &vswitchd.Port{
		UUID:        "newport",
		Name:        spec.Name,
		Interfaces:  []string{iface.UUID},
		ExternalIDs: withoutEmpty(spec.ExternalIDs),
	}
	b.add(c.ovs.Create(iface))
	b.add(c.ovs.Create(port))
	b.add(c.ovs.Where(br).Mutate(br, model.Mutation{
		Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID},
	}))
	return b.result()
}

func (c *Client) updatePortOps(ctx context.Context, br *vswitchd.Bridge, port *vswitchd.Port,
	spec PortSpec) ([]ovsdb.Operation, error) {
	if !contains(br.Ports, port.UUID) {
		other, err := c.bridgeOfPort(ctx, port.UUID)
		if err != nil {
			return nil, err
		}
		if other != nil {
			return nil, fmt.Errorf("port %q already exists on bridge %q", spec.Name, other.Name)
		}
	}
	if len(port.Interfaces) != 1 {
		return nil, fmt.Errorf("port %q has %d interfaces, expected one", spec.Name, len(port.Interfaces))
	}
	iface, err := c.interfaceByUUID(ctx, port.Interfaces[0])
	if err != nil {
		return nil, err
	}
	if iface == nil || iface.Name != spec.Name {
		return nil, fmt.Errorf("port %q: its interface is missing or has another name", spec.Name)
	}

	var b opsBuilder
	if !contains(br.Ports, port.UUID) {
		b.add(c.ovs.Where(br).Mutate(br, model.Mutation{
			Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID},
		}))
	}
	want := &vswitchd.Interface{UUID: iface.UUID, Name: iface.Name}
	desiredInterface(want, spec)
	if fields := interfaceFieldsToUpdate(iface, want); len(fields) > 0 {
		b.add(c.ovs.Where(want).Update(want, fields...))
	}
	if muts := mapMutations(&port.ExternalIDs, port.ExternalIDs, spec.ExternalIDs); len(muts) > 0 {
		b.add(c.ovs.Where(port).Mutate(port, muts...))
	}
	return b.result()
}

// desiredInterface fills the columns of iface that PortSpec controls.
func desiredInterface(iface *vswitchd.Interface, spec PortSpec) {
	iface.Type = spec.Type
	iface.Options = maps.Clone(spec.Options)
	if spec.OfportRequest > 0 {
		iface.OfportRequest = &spec.OfportRequest
	}
	if spec.MAC != "" {
		iface.MAC = &spec.MAC
	}
	if spec.MTURequest > 0 {
		iface.MTURequest = &spec.MTURequest
	}
}

// interfaceFieldsToUpdate returns pointers to the fields of want that differ from cur.
func interfaceFieldsToUpdate(cur, want *vswitchd.Interface) []any {
	var fields []any
	if cur.Type != want.Type {
		fields = append(fields, &want.Type)
	}
	if !samePtr(cur.OfportRequest, want.OfportRequest) {
		fields = append(fields, &want.OfportRequest)
	}
	if !samePtr(cur.MAC, want.MAC) {
		fields = append(fields, &want.MAC)
	}
	if !samePtr(cur.MTURequest, want.MTURequest) {
		fields = append(fields, &want.MTURequest)
	}
	if !sameStringMap(cur.Options, want.Options) {
		fields = append(fields, &want.Options)
	}
	return fields
}

func samePtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DeletePort removes the port from the bridge and deletes its Port and Interface rows, in one transaction. A
// missing port is not an error; a port of that name on another bridge is.
func (c *Client) DeletePort(ctx context.Context, bridge, name string) error {
	return c.converge(ctx, "delete port "+name, c.vswitchdPlan(func(ctx context.Context) ([]ovsdb.Operation, error) {
		port, err := c.portByName(ctx, name)
		if err != nil || port == nil {
			return nil, err
		}
		br, err := c.bridgeOfPort(ctx, port.UUID)
		if err != nil {
			return nil, err
		}
		var b opsBuilder
		if br != nil {
			if br.Name != bridge {
				return nil, fmt.Errorf("port %q is on bridge %q, not on %q", name, br.Name, bridge)
			}
			b.add(c.ovs.Where(br).Mutate(br, model.Mutation{
				Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{port.UUID},
			}))
		}
		b.add(c.ovs.Where(port).Delete())
		for _, uuid := range port.Interfaces {
			b.add(c.ovs.Where(&vswitchd.Interface{UUID: uuid}).Delete())
		}
		return b.result()
	}))
}

// SetPortExternalIDs merges ids into the Port row's external_ids: listed keys get these values, a key with an
// empty value is removed, other keys are kept.
func (c *Client) SetPortExternalIDs(ctx context.Context, name string, ids map[string]string) error {
	return c.converge(ctx, "set external_ids of port "+name, func(ctx context.Context) ([]ovsdb.Operation, error) {
		port, err := c.portByName(ctx, name)
		if err != nil {
			return nil, err
		}
		if port == nil {
			return nil, fmt.Errorf("port %q does not exist", name)
		}
		muts := mapMutations(&port.ExternalIDs, port.ExternalIDs, ids)
		if len(muts) == 0 {
			return nil, nil
		}
		return c.ovs.Where(port).Mutate(port, muts...)
	})
}
