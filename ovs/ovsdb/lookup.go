package ovsdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

// Cache lookups shared by the write and read paths. They wait (up to ctx) for the cache to be consistent after
// a reconnect; "not found" is reported as (nil, nil).

func isNotFound(err error) bool { return errors.Is(err, client.ErrNotFound) }

// root returns the single Open_vSwitch row, which `ovs-vsctl init` or the distribution's startup script creates.
func (c *Client) root(ctx context.Context) (*vswitchd.OpenvSwitch, error) {
	var rows []vswitchd.OpenvSwitch
	if err := c.ovs.List(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read Open_vSwitch table: %w", err)
	}
	switch len(rows) {
	case 1:
		return &rows[0], nil
	case 0:
		return nil, errors.New("the Open_vSwitch table has no row: the database was never initialized (ovs-vsctl init)")
	default:
		return nil, fmt.Errorf("the Open_vSwitch table has %d rows, expected one", len(rows))
	}
}

func (c *Client) bridgeByName(ctx context.Context, name string) (*vswitchd.Bridge, error) {
	br := &vswitchd.Bridge{Name: name}
	return lookup(ctx, c, br, "bridge", name)
}

func (c *Client) portByName(ctx context.Context, name string) (*vswitchd.Port, error) {
	p := &vswitchd.Port{Name: name}
	return lookup(ctx, c, p, "port", name)
}

func (c *Client) interfaceByName(ctx context.Context, name string) (*vswitchd.Interface, error) {
	iface := &vswitchd.Interface{Name: name}
	return lookup(ctx, c, iface, "interface", name)
}

func (c *Client) portByUUID(ctx context.Context, uuid string) (*vswitchd.Port, error) {
	p := &vswitchd.Port{UUID: uuid}
	return lookup(ctx, c, p, "port", uuid)
}

func (c *Client) interfaceByUUID(ctx context.Context, uuid string) (*vswitchd.Interface, error) {
	iface := &vswitchd.Interface{UUID: uuid}
	return lookup(ctx, c, iface, "interface", uuid)
}

func (c *Client) flowTableByUUID(ctx context.Context, uuid string) (*vswitchd.FlowTable, error) {
	t := &vswitchd.FlowTable{UUID: uuid}
	return lookup(ctx, c, t, "Flow_Table row", uuid)
}

// bridgeOfPort returns the bridge whose ports column holds the port, or nil.
func (c *Client) bridgeOfPort(ctx context.Context, portUUID string) (*vswitchd.Bridge, error) {
	var bridges []vswitchd.Bridge
	if err := c.ovs.List(ctx, &bridges); err != nil {
		return nil, fmt.Errorf("read Bridge table: %w", err)
	}
	for i := range bridges {
		if contains(bridges[i].Ports, portUUID) {
			return &bridges[i], nil
		}
	}
	return nil, nil
}

// lookup fills m (which carries its UUID or name index) from the cache.
func lookup[M any](ctx context.Context, c *Client, m *M, kind, key string) (*M, error) {
	err := c.ovs.Get(ctx, m)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s %q: %w", kind, key, err)
	}
	return m, nil
}
