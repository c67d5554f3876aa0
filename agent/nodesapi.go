package agent

import (
	"fmt"

	"github.com/switchyard-net/switchyard/cni/api"
)

// Nodes is this node's view of its peers (GET /v1/nodes, yardctl nodes): how it reaches each one.
func (a *Agent) Nodes() (*api.NodeList, error) {
	if ready, why := a.Ready(); !ready {
		return nil, fmt.Errorf("agent not ready: %s", why)
	}
	out := &api.NodeList{Node: a.cfg.NodeName, TrafficMode: a.cfg.TrafficMode, PodCIDR: a.node.PodCIDR.String(),
		Peers: []api.PeerNode{}}
	if a.cfg.Encap() {
		out.TunnelType = a.cfg.TunnelType
	}
	if a.transport != nil && a.transport.Addr != nil {
		out.TransportIP = a.transport.Addr.IP.String()
	}
	if a.peers == nil {
		return out, nil
	}
	for _, p := range a.peers.Peers() {
		pn := api.PeerNode{Name: p.Name, TransportIP: ipString(p.NodeIP), Mode: "direct"}
		for _, c := range p.PodCIDRs {
			pn.PodCIDRs = append(pn.PodCIDRs, c.String())
		}
		if p.Encap {
			pn.Mode, pn.Tunnel = "encap", a.cfg.TunnelType
		}
		out.Peers = append(out.Peers, pn)
	}
	return out, nil
}
