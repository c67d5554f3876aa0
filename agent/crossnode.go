package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/agent/config"
	"github.com/switchyard-net/switchyard/agent/noderoute"
	"github.com/switchyard-net/switchyard/agent/snat"
	"github.com/switchyard-net/switchyard/agent/transport"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/ovsdb"
)

// Cross-node networking: the transport interface and MTU, the netdev physical bridge, the tunnel port, the peer
// node controller and SNAT. docs/modes.md describes the modes.

// TunnelOFPort is the ofport requested for the flow-based tunnel port, so flows are readable across nodes.
const TunnelOFPort = 1

// tunnelOwner owns the tunnel port's flows.
var tunnelOwner = flows.Owner{Category: flows.Pipeline, Key: "tunnel"}

// fallbackTransportMTU is assumed when no transport interface can be found (standalone use without a route).
const fallbackTransportMTU = 1500

// setupTransport finds the transport interface, sets the pod MTU from it unless configured, and on the netdev
// datapath with encapsulation moves the node address to the physical bridge (in any other mode it moves it back,
// should an earlier start have moved it). In standalone use without a route
// there may be no transport interface: the MTU then assumes a 1500-byte underlay.
func (a *Agent) setupTransport(ctx context.Context) error {
	var nodeIP net.IP
	if a.kube != nil {
		var err error
		if nodeIP, err = a.waitNodeIP(ctx); err != nil {
			return err
		}
	}
	f := transport.Finder{Configured: a.cfg.TransportInterface, NodeIP: nodeIP, PhysicalBridge: a.cfg.PhysicalBridge,
		BridgePorts: func(br string) []string {
			var names []string
			for _, p := range a.db.Ports(br) {
				names = append(names, p.Name)
			}
			return names
		}}
	tr, err := f.Find()
	switch {
	case err != nil && (a.kube != nil || a.cfg.TransportInterface != ""):
		return fmt.Errorf("transport interface: %w", err)
	case err != nil:
		a.log.WithError(err).Warn("no transport interface (standalone): pods reach no other node; MTU assumes a 1500-byte underlay")
		a.cfg.MTU = a.cfg.PodMTU(fallbackTransportMTU, false)
		return nil
	}
	a.cfg.MTU = a.cfg.PodMTU(tr.MTU, tr.IPv6())
	log := a.log.WithField("component", "transport")
	if a.cfg.DatapathType == config.DatapathNetdev && a.cfg.Encap() {
		if tr, err = transport.PrepareNetdev(ctx, a.db, tr, a.cfg.PhysicalBridge, log); err != nil {
			return err
		}
	} else if tr, err = transport.ReleaseNetdev(ctx, a.db, tr, log); err != nil {
		return err // an earlier start in another mode left the address on the physical bridge
	}
	a.transport = tr
	a.log.WithFields(logrus.Fields{"interface": tr.Name, "address": tr.Addr, "bridge": tr.Bridge, "interfaceMTU": tr.MTU,
		"podMTU": a.cfg.MTU, "mode": a.cfg.TrafficMode}).Info("transport interface")
	return nil
}

// nodeIPWait is how long the agent waits for the kubelet to post the node's InternalIP before it looks for the
// transport interface through the default route instead.
const nodeIPWait = 60 * time.Second

// waitNodeIP returns the node's InternalIP, waiting for the kubelet to post it (the pod CIDR can be allocated
// before); nil if there is none after nodeIPWait.
func (a *Agent) waitNodeIP(ctx context.Context) (net.IP, error) {
	deadline := time.Now().Add(nodeIPWait)
	for logged := false; ; logged = true {
		n, err := a.kube.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil {
			if ip := noderoute.NodeIP(n, false); ip != nil {
				return ip, nil
			}
		}
		if time.Now().After(deadline) {
			a.log.WithError(err).Warn("the node has no InternalIP; finding the transport interface through the default route")
			return nil, nil
		}
		if !logged {
			a.log.WithError(err).Info("waiting for the node's InternalIP")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the InternalIP of node %s: %w", a.cfg.NodeName, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ensureTunnel creates the flow-based tunnel port (remote_ip=flow, key=flow) of the configured type on br-int in
// the modes that encapsulate, and removes a leftover one in noEncap mode.
func (a *Agent) ensureTunnel(ctx context.Context) error {
	if !a.cfg.Encap() {
		if err := a.db.DeletePort(ctx, a.cfg.Bridge, a.cfg.TunnelName); err != nil {
			return fmt.Errorf("removing tunnel port %s (noEncap mode): %w", a.cfg.TunnelName, err)
		}
		return nil
	}
	typ := ovsdb.InterfaceGeneve
	if a.cfg.TunnelType == config.TunnelVXLAN {
		typ = ovsdb.InterfaceVXLAN
	}
	if err := a.db.EnsurePort(ctx, ovsdb.PortSpec{Bridge: a.cfg.Bridge, Name: a.cfg.TunnelName, Type: typ,
		OfportRequest: TunnelOFPort, Options: map[string]string{"remote_ip": "flow", "key": "flow"},
		ExternalIDs: map[string]string{"switchyard.io/owner": "switchyard", "switchyard.io/kind": "tunnel"}}); err != nil {
		return fmt.Errorf("tunnel port %s: %w", a.cfg.TunnelName, err)
	}
	port, err := a.db.WaitOfport(ctx, a.cfg.TunnelName)
	if err != nil {
		return fmt.Errorf("tunnel port %s: %w", a.cfg.TunnelName, err)
	}
	if port != TunnelOFPort {
		return fmt.Errorf("tunnel port %s got ofport %d, not %d (another port holds it?)", a.cfg.TunnelName, port, TunnelOFPort)
	}
	return nil
}

// stageCrossNode stages the tunnel port's flows and, with a Kubernetes API, starts the peer node controller and
// stages every peer's flows: all before the store's first Reconcile, so a restart changes nothing on the bridge.
func (a *Agent) stageCrossNode(ctx context.Context) error {
	if a.cfg.Encap() {
		if err := a.store.Stage(tunnelOwner, flows.TunnelPortFlows(a.node, TunnelOFPort), nil); err != nil {
			return err
		}
	}
	if a.kube == nil {
		return nil
	}
	ccfg := noderoute.Config{NodeName: a.cfg.NodeName, Mode: a.cfg.TrafficMode, Node: a.node, TunnelOFPort: TunnelOFPort,
		GatewayName: a.cfg.GatewayName}
	if a.transport != nil {
		ccfg.Transport = a.transport.Addr
	}
	deps := noderoute.Deps{Flows: a.store, Routes: noderoute.NetlinkRoutes{Gateway: a.cfg.GatewayName}}
	if a.transport != nil && a.transport.Bridge != "" {
		deps.Neighbors = transport.TunnelNeighbors{Bridge: a.transport.Bridge, RunDir: a.cfg.OVSRunDir, VswitchdCtl: a.cfg.VswitchdCtl}
	}
	if !a.cfg.NoSNAT {
		deps.SNAT = a.snat
	}
	c, err := noderoute.New(ccfg, a.kube, deps, a.log.WithField("component", "noderoute"))
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	if err := c.Stage(); err != nil {
		return err
	}
	a.peers = c
	return nil
}

// runCrossNode, after the first Reconcile: host routes of the peers and the controller, the SNAT rules (or their
// removal with noSNAT), and IP forwarding.
func (a *Agent) runCrossNode(ctx context.Context) error {
	if err := enableIPForwarding(a.log); err != nil {
		return err
	}
	switch {
	case a.cfg.NoSNAT:
		if err := a.snat.Remove(ctx); err != nil {
			return err
		}
	case a.peers == nil: // standalone: every destination but the local pod CIDR and the node is outside
		r := snat.Rules{LocalPodCIDR: a.node.PodCIDR, Gateway: a.cfg.GatewayName}
		if a.transport != nil {
			r.NodeIPs = []net.IP{a.transport.Addr.IP}
		}
		if err := a.snat.Apply(ctx, r); err != nil {
			return err
		}
	}
	if a.peers != nil {
		return a.peers.Run(ctx)
	}
	return nil
}

// enableIPForwarding turns on IPv4 forwarding: the host routes pod traffic to other nodes (direct routing) and out
// of the cluster.
func enableIPForwarding(log logrus.FieldLogger) error {
	const path = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding (%s): %w", path, err)
	}
	log.Info("enabled IPv4 forwarding")
	return nil
}
