package ovsdb

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

// PortInfo is what the cache knows about a port and its interface.
type PortInfo struct {
	Name string
	// Type is the interface type (see the Interface* constants).
	Type string
	// Ofport is the OpenFlow port number vswitchd assigned: 0 not yet, -1 failed (see Error).
	Ofport int32
	// MACInUse is the MAC address of the device (Interface.mac_in_use), empty until vswitchd reports it.
	MACInUse string
	// Error is vswitchd's reason for a failed interface (Interface.error).
	Error string
	// ExternalIDs are the Port row's external_ids.
	ExternalIDs map[string]string
}

// Ports lists the ports of a bridge from the cache, sorted by name, including the bridge's own local port. An
// unknown bridge has no ports.
func (c *Client) Ports(bridge string) []PortInfo {
	ctx, cancel := readContext()
	defer cancel()
	br, err := c.bridgeByName(ctx, bridge)
	if err != nil || br == nil {
		return nil
	}
	var infos []PortInfo
	for _, uuid := range br.Ports {
		port, err := c.portByUUID(ctx, uuid)
		if err != nil || port == nil {
			continue
		}
		info := PortInfo{Name: port.Name, ExternalIDs: port.ExternalIDs}
		if len(port.Interfaces) > 0 {
			if iface, err := c.interfaceByUUID(ctx, port.Interfaces[0]); err == nil && iface != nil {
				info.Type = iface.Type
				info.Ofport = ofportOf(iface)
				info.MACInUse = deref(iface.MACInUse)
				info.Error = deref(iface.Error)
			}
		}
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos
}

// OfportsInUse returns, from the cache, every OpenFlow port number that an interface of the bridge has or has
// asked for (ofport and ofport_request): the numbers a new port must not request.
func (c *Client) OfportsInUse(bridge string) map[int32]bool {
	used := map[int32]bool{}
	// Read the cached rows in place (no copy per row: this runs on every pod ADD and the tables grow with the
	// pods); they are read-only here.
	tables := c.ovs.Cache()
	if tables == nil {
		return used
	}
	brTable, portTable, ifaceTable := tables.Table(vswitchd.BridgeTable), tables.Table(vswitchd.PortTable), tables.Table(vswitchd.InterfaceTable)
	if brTable == nil || portTable == nil || ifaceTable == nil {
		return used
	}
	var br *vswitchd.Bridge
	for _, row := range brTable.RowsShallow() {
		if b, ok := row.(*vswitchd.Bridge); ok && b.Name == bridge {
			br = b
		}
	}
	if br == nil {
		return used
	}
	ports, ifaces := portTable.RowsShallow(), ifaceTable.RowsShallow()
	for _, uuid := range br.Ports {
		port, ok := ports[uuid].(*vswitchd.Port)
		if !ok {
			continue
		}
		for _, iu := range port.Interfaces {
			iface, ok := ifaces[iu].(*vswitchd.Interface)
			if !ok {
				continue
			}
			if n := ofportOf(iface); n > 0 {
				used[n] = true
			}
			if iface.OfportRequest != nil {
				used[int32(*iface.OfportRequest)] = true
			}
		}
	}
	return used
}

// InterfaceByName returns the cached Interface row of that name. The row holds only the monitored columns
// (everything but statistics, status and a few rarely used ones).
func (c *Client) InterfaceByName(name string) (*vswitchd.Interface, bool) {
	ctx, cancel := readContext()
	defer cancel()
	iface, err := c.interfaceByName(ctx, name)
	if err != nil || iface == nil {
		return nil, false
	}
	return iface, true
}

// WaitOfport waits until vswitchd has given the interface an OpenFlow port number and returns it. The wait
// follows the cache; it does not poll the server. If vswitchd could not add the interface (ofport -1), the error
// quotes Interface.error, e.g. "could not open network device veth0 (No such device)".
func (c *Client) WaitOfport(ctx context.Context, name string) (int32, error) {
	var ofport int32
	var last *vswitchd.Interface
	err := c.waitCache(ctx, func(ctx context.Context) (bool, error) {
		iface, err := c.interfaceByName(ctx, name)
		if err != nil || iface == nil {
			return false, err
		}
		last = iface
		ofport = ofportOf(iface)
		if ofport == -1 && iface.Error != nil {
			return false, fmt.Errorf("vswitchd could not add interface %q: %s", name, *iface.Error)
		}
		return ofport > 0, nil
	})
	switch {
	case err == nil:
		return ofport, nil
	case ctx.Err() == nil: // vswitchd's error, or the cache could not be read
		return 0, err
	case last == nil:
		return 0, fmt.Errorf("wait for ofport of interface %q: no such interface: %w", name, err)
	default:
		return 0, fmt.Errorf("wait for ofport of interface %q (ofport %d, error %q): %w", name, ofport,
			deref(last.Error), err)
	}
}

// OnInterfaceChange registers fn to be called for every change of an Interface row in the cache: old is nil for a
// new row, new is nil for a deleted one. After a reconnect to ovsdb-server every row is reported again as new
// (rows deleted while disconnected are not reported). fn runs on libovsdb's event goroutine: it must return
// quickly, and must not modify the rows.
func (c *Client) OnInterfaceChange(fn func(old, new *vswitchd.Interface)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ifaceHooks = append(slices.Clip(c.ifaceHooks), fn) // a new array: onCacheEvent may be iterating the old one
}

// ofportOf returns the interface's ofport, 0 while vswitchd has not set it.
func ofportOf(iface *vswitchd.Interface) int32 {
	if iface.Ofport == nil {
		return 0
	}
	return int32(*iface.Ofport)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
