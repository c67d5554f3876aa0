package agent

import (
	"context"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"

	"github.com/switchyard-net/switchyard/agent/proxy"
	"github.com/switchyard-net/switchyard/flows"
)

// Service load balancing (docs/services.md): the proxy controller programs Services into br-int; the host routes
// Service addresses (and the address its nftables DNAT node ports to) into the gateway.

// servicePipelineOwner owns the node's static Service flows.
var servicePipelineOwner = flows.Owner{Category: flows.Pipeline, Key: "services"}

// stageServices starts the Service and EndpointSlice informers and stages the Service flows before the first
// Reconcile, so a restarted agent replaces them in place. Standalone agents (no Kubernetes) have no Services.
func (a *Agent) stageServices(ctx context.Context) error {
	if a.kube == nil {
		return nil
	}
	cfg := flows.ServiceConfig{Node: a.node, SNATZone: uint16(a.cfg.SNATCTZone)}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := a.store.Stage(servicePipelineOwner, flows.ServicePipelineFlows(cfg), nil); err != nil {
		return err
	}
	p, err := proxy.New(proxy.Config{NodeName: a.cfg.NodeName, Services: cfg, Events: a.events}, a.kube, a.store,
		&proxy.Host{NFT: &proxy.NFT{Gateway: a.cfg.GatewayName}, Routes: &proxy.ExternalRoutes{Gateway: a.cfg.GatewayName}}, a.log.WithField("component", "proxy"))
	if err != nil {
		return err
	}
	if err := p.StageAll(ctx); err != nil {
		return err
	}
	a.proxy = p
	return nil
}

// runServices, after the first Reconcile: the host routes of the Service addresses and the proxy's workers.
func (a *Agent) runServices(ctx context.Context) error {
	if a.proxy == nil {
		return nil
	}
	if err := serviceRoutes(a.cfg.GatewayName, a.node.GatewayMAC, a.cfg.ServiceCIDR); err != nil {
		return err
	}
	return a.proxy.Run(ctx)
}

// serviceRoutes sends the Service CIDR and the virtual node-port address from the host into the gateway, through
// the virtual next hop flows.VirtualServiceIP whose neighbour entry is the gateway's own MAC (so the packets enter
// br-int addressed to the gateway and reach ServiceLB). Idempotent.
func serviceRoutes(gwName string, gwMAC net.HardwareAddr, serviceCIDR string) error {
	gw, err := netlink.LinkByName(gwName)
	if err != nil {
		return fmt.Errorf("service routes: gateway %s: %w", gwName, err)
	}
	neigh := &netlink.Neigh{LinkIndex: gw.Attrs().Index, IP: flows.VirtualServiceIP, HardwareAddr: gwMAC,
		State: netlink.NUD_PERMANENT, Family: netlink.FAMILY_V4}
	if err := netlink.NeighSet(neigh); err != nil {
		return fmt.Errorf("service routes: neighbour %s on %s: %w", flows.VirtualServiceIP, gwName, err)
	}
	_, svc, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return fmt.Errorf("service routes: serviceCIDR %q: %w", serviceCIDR, err)
	}
	// The virtual next hop itself: replies to connections SNATed to it that the host un-masquerades
	// (endpoints reached through the host) go back into the gateway.
	next := &netlink.Route{LinkIndex: gw.Attrs().Index, Dst: &net.IPNet{IP: flows.VirtualServiceIP, Mask: net.CIDRMask(32, 32)},
		Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteReplace(next); err != nil {
		return fmt.Errorf("service routes: %s dev %s: %w", flows.VirtualServiceIP, gwName, err)
	}
	nodePort := &net.IPNet{IP: flows.VirtualNodePortIP, Mask: net.CIDRMask(32, 32)}
	for _, dst := range []*net.IPNet{svc, nodePort} {
		r := &netlink.Route{LinkIndex: gw.Attrs().Index, Dst: dst, Gw: flows.VirtualServiceIP, Flags: int(netlink.FLAG_ONLINK)}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("service routes: %s via %s dev %s: %w", dst, flows.VirtualServiceIP, gwName, err)
		}
	}
	return nil
}
