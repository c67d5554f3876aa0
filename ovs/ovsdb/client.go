// Package ovsdb is everything Switchyard does with the Open_vSwitch database: bridges, ports and interfaces,
// Open_vSwitch.other_config, and a cache of them that follows the database. It talks OVSDB through libovsdb with the
// typed models of package vswitchd; it never runs ovs-vsctl.
//
// Writes are idempotent "ensure" operations: each reads the cache, sends one transaction with only what differs,
// and returns once the cache shows the result, so a caller reads its own writes. The client reconnects by itself
// when ovsdb-server restarts and re-reads the whole database into its cache.
package ovsdb

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/ovs/ovsdb/vswitchd"
)

const (
	// databaseName is the name of the database ovsdb-server serves to ovs-vswitchd.
	databaseName = "Open_vSwitch"
	// reconnectAttemptTimeout bounds one reconnect attempt (dial, schema, monitor).
	reconnectAttemptTimeout = 10 * time.Second
	// connectRetryWait is the pause between initial connection attempts while ovsdb-server is not up yet.
	connectRetryWait = 200 * time.Millisecond
	// closedEndpoint is dialed by a closed client's reconnect loop, so that it cannot connect again (see Close).
	closedEndpoint = "unix:/nonexistent/switchyard-ovsdb-client-closed.sock"
)

// Client is a connection to ovsdb-server with a cache of the Open_vSwitch, Bridge, Port, Interface and Flow_Table
// tables. It is safe for concurrent use.
type Client struct {
	ovs      client.Client
	endpoint string
	log      logrus.FieldLogger

	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever the cache changes
	ifaceHooks []func(old, new *vswitchd.Interface)
}

// clientDBModel registers only the tables Switchyard uses.
func clientDBModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel(databaseName, map[string]model.Model{
		vswitchd.OpenvSwitchTable: &vswitchd.OpenvSwitch{},
		vswitchd.BridgeTable:      &vswitchd.Bridge{},
		vswitchd.PortTable:        &vswitchd.Port{},
		vswitchd.InterfaceTable:   &vswitchd.Interface{},
		vswitchd.FlowTableTable:   &vswitchd.FlowTable{},
	})
}

// Connect connects to ovsdb-server at endpoint (OVSDB connection syntax, e.g. "unix:/var/run/openvswitch/db.sock"),
// retrying until ctx ends while the server is not up yet, and fills the cache. Later disconnections are repaired
// in the background: the client reconnects and re-reads the database without the caller doing anything.
// A nil log means logrus's standard logger.
func Connect(ctx context.Context, endpoint string, log logrus.FieldLogger) (*Client, error) {
	if log == nil {
		log = logrus.StandardLogger()
	}
	dbModel, err := clientDBModel()
	if err != nil {
		return nil, fmt.Errorf("build OVSDB client model: %w", err)
	}
	c := &Client{
		endpoint: endpoint,
		log:      log.WithField("ovsdb", endpoint),
		closed:   make(chan struct{}),
		changed:  make(chan struct{}),
	}
	logger := newLogrLogger(c.log)
	c.ovs, err = client.NewOVSDBClient(dbModel,
		client.WithEndpoint(endpoint),
		client.WithReconnect(reconnectAttemptTimeout, newReconnectBackOff(c.closed)),
		client.WithLogger(&logger))
	if err != nil {
		return nil, fmt.Errorf("OVSDB client for %s: %w", endpoint, err)
	}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	c.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(table string, m model.Model) { c.onCacheEvent(table, nil, m) },
		UpdateFunc: func(table string, old, m model.Model) { c.onCacheEvent(table, old, m) },
		DeleteFunc: func(table string, old model.Model) { c.onCacheEvent(table, old, nil) },
	})
	if err := c.monitor(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor OVSDB at %s: %w", endpoint, err)
	}
	return c, nil
}

func (c *Client) connect(ctx context.Context) error {
	for {
		err := c.ovs.Connect(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect to OVSDB at %s: %w (last error: %v)", c.endpoint, ctx.Err(), err)
		case <-time.After(connectRetryWait):
		}
	}
}

// monitor subscribes to the tables of the model. Interface, Port and Bridge are monitored without their
// statistics and status columns, which vswitchd rewrites every few seconds.
func (c *Client) monitor(ctx context.Context) error {
	var iface vswitchd.Interface
	var port vswitchd.Port
	var br vswitchd.Bridge
	m := c.ovs.NewMonitor(
		client.WithTable(&vswitchd.OpenvSwitch{}),
		client.WithTable(&vswitchd.FlowTable{}),
		client.WithTable(&br, &br.UUID, &br.Name, &br.DatapathType, &br.FailMode, &br.Protocols, &br.FlowTables,
			&br.Ports, &br.ExternalIDs, &br.OtherConfig, &br.DatapathID),
		client.WithTable(&port, &port.UUID, &port.Name, &port.Interfaces, &port.ExternalIDs, &port.OtherConfig),
		client.WithTable(&iface, &iface.UUID, &iface.Name, &iface.Type, &iface.Ofport, &iface.OfportRequest,
			&iface.MAC, &iface.MACInUse, &iface.MTU, &iface.MTURequest, &iface.Options, &iface.ExternalIDs,
			&iface.OtherConfig, &iface.Error, &iface.Ifindex, &iface.AdminState, &iface.LinkState),
	)
	_, err := c.ovs.Monitor(ctx, m)
	return err
}

// Connected says whether the client is connected to ovsdb-server right now. While it is not, writes block until
// it has reconnected (or their context ends) and reads answer from the last known state.
func (c *Client) Connected() bool {
	// libovsdb's Connected stays true while it reconnects; it drops its RPC client (and with it the current
	// endpoint) as soon as it has noticed the disconnection.
	return c.ovs.Connected() && c.ovs.CurrentEndpoint() != ""
}

// Close disconnects and stops reconnecting. Safe to call twice.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.ovs.Close()
		// Close does nothing while libovsdb is between reconnect attempts: point those attempts at a socket that
		// does not exist, so the loop cannot connect again and parks in reconnectBackOff.
		c.ovs.UpdateEndpoints([]string{closedEndpoint})
	})
}
