package noderoute

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/switchyard-net/switchyard/flows"
)

// RouteProtocol marks the host routes the agent installs (the rtnetlink protocol field, `proto 94` in `ip route`):
// after a restart the agent finds its own routes by it and removes those of nodes that are gone.
const RouteProtocol = 94

// HostRoutes keeps the host's routes to the peers' pod CIDRs.
type HostRoutes interface {
	// Ensure installs the routes of p (and for encap the neighbour entry of its gateway IP), replacing whatever
	// route the pod CIDR had.
	Ensure(p *Peer) error
	// Remove deletes the routes and neighbour entries of p that are not needed by keep (nil: all of them). Missing
	// routes are not an error.
	Remove(p, keep *Peer) error
	// Prune deletes every route and neighbour entry this agent owns that no peer in desired needs.
	Prune(desired []*Peer) error
}

// NetlinkRoutes implements HostRoutes with netlink in the agent's network namespace.
type NetlinkRoutes struct {
	// Gateway is the gateway interface (switchyard-gw0): encap routes go through it.
	Gateway string
}

func (r NetlinkRoutes) gateway() (netlink.Link, error) {
	l, err := netlink.LinkByName(r.Gateway)
	if err != nil {
		return nil, fmt.Errorf("gateway interface %s: %w", r.Gateway, err)
	}
	return l, nil
}

// Ensure installs, per pod CIDR: encap `<cidr> via <peer gateway IP> dev <gateway> onlink` plus the permanent
// neighbour entry `<peer gateway IP> lladdr <virtual MAC>`; direct `<cidr> via <peer IP>` (or, if the peer is not
// on-link, via the next hop towards it; the underlay must then route the pod CIDR).
func (r NetlinkRoutes) Ensure(p *Peer) error {
	gw, err := r.gateway()
	if err != nil {
		return err
	}
	for _, cidr := range p.PodCIDRs {
		route := &netlink.Route{Dst: cidr, Protocol: RouteProtocol, Scope: netlink.SCOPE_UNIVERSE, Table: unix.RT_TABLE_MAIN}
		if p.Encap {
			peerGW := flows.PeerGatewayIP(cidr)
			if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: gw.Attrs().Index, Family: netlink.FAMILY_V4,
				State: netlink.NUD_PERMANENT, IP: peerGW, HardwareAddr: flows.VirtualMAC}); err != nil {
				return fmt.Errorf("node %s: neighbour %s lladdr %s dev %s: %w", p.Name, peerGW, flows.VirtualMAC, r.Gateway, err)
			}
			route.Gw, route.LinkIndex, route.Flags = peerGW, gw.Attrs().Index, int(netlink.FLAG_ONLINK)
		} else {
			via, link, err := nextHop(p.NodeIP)
			if err != nil {
				return fmt.Errorf("node %s: %w", p.Name, err)
			}
			route.Gw, route.LinkIndex = via, link
		}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("node %s: route %s via %s: %w", p.Name, cidr, route.Gw, err)
		}
	}
	return nil
}

// nextHop is how the host reaches ip: directly (ip itself) or through a gateway, and on which link.
func nextHop(ip net.IP) (net.IP, int, error) {
	routes, err := netlink.RouteGet(ip)
	if err != nil || len(routes) == 0 {
		return nil, 0, fmt.Errorf("no route to peer address %s: %v", ip, err)
	}
	if routes[0].Gw != nil {
		return routes[0].Gw, routes[0].LinkIndex, nil
	}
	return ip, routes[0].LinkIndex, nil
}

// Remove deletes p's routes and neighbour entries that keep does not need.
func (r NetlinkRoutes) Remove(p, keep *Peer) error {
	if p == nil {
		return nil
	}
	kept := map[string]bool{}
	keptNeigh := map[string]bool{}
	if keep != nil {
		for _, c := range keep.PodCIDRs {
			kept[c.String()] = true
			if keep.Encap {
				keptNeigh[flows.PeerGatewayIP(c).String()] = true
			}
		}
	}
	var errs []error
	for _, cidr := range p.PodCIDRs {
		if !kept[cidr.String()] {
			err := netlink.RouteDel(&netlink.Route{Dst: cidr, Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN})
			if err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("node %s: deleting route %s: %w", p.Name, cidr, err))
			}
		}
		if p.Encap && !keptNeigh[flows.PeerGatewayIP(cidr).String()] {
			errs = append(errs, r.delNeigh(flows.PeerGatewayIP(cidr)))
		}
	}
	return errors.Join(errs...)
}

func (r NetlinkRoutes) delNeigh(ip net.IP) error {
	gw, err := r.gateway()
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	err = netlink.NeighDel(&netlink.Neigh{LinkIndex: gw.Attrs().Index, Family: netlink.FAMILY_V4, IP: ip})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting neighbour %s dev %s: %w", ip, r.Gateway, err)
	}
	return nil
}

// Prune deletes the routes with RouteProtocol and the virtual-MAC neighbour entries of the gateway that no desired
// peer needs: what a previous agent installed for nodes deleted while it was down.
func (r NetlinkRoutes) Prune(desired []*Peer) error {
	wantRoute, wantNeigh := map[string]bool{}, map[string]bool{}
	for _, p := range desired {
		for _, c := range p.PodCIDRs {
			wantRoute[c.String()] = true
			if p.Encap {
				wantNeigh[flows.PeerGatewayIP(c).String()] = true
			}
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	var errs []error
	for _, rt := range routes {
		if rt.Dst != nil && !wantRoute[rt.Dst.String()] {
			if err := netlink.RouteDel(&rt); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("deleting stale route %s: %w", rt.Dst, err))
			}
		}
	}
	gw, err := r.gateway()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	neighs, err := netlink.NeighList(gw.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing neighbours of %s: %w", r.Gateway, err))...)
	}
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT != 0 && n.HardwareAddr.String() == flows.VirtualMAC.String() && !wantNeigh[n.IP.String()] {
			errs = append(errs, r.delNeigh(n.IP))
		}
	}
	return errors.Join(errs...)
}
