// Package noderoute connects this node's pods with the pods of every other node. A Node informer gives each peer's
// pod CIDRs (spec.podCIDRs) and transport address (its InternalIP); per peer the controller decides encap (the
// flow-based tunnel port, tun_dst = the peer) or direct (the host routes the pod CIDR to the peer's address) and
// keeps three things in step with the Node objects: the peer's flows (one flows.Node owner per peer node), the host
// routes (and, for encap, the permanent neighbour entry of the peer's gateway IP), and on the netdev datapath the
// seed of OVS's tunnel neighbour cache. It also refreshes the SNAT exemptions (every pod CIDR and node address).
package noderoute

import (
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard-net/switchyard/flows"
)

// Modes (the trafficMode option).
const (
	ModeEncap   = "encap"
	ModeNoEncap = "noEncap"
	ModeHybrid  = "hybrid"
)

// Peer is what this node needs to know about another node.
type Peer struct {
	Name     string
	NodeIP   net.IP       // the peer's transport address (InternalIP)
	PodCIDRs []*net.IPNet // its IPv4 pod CIDRs
	Encap    bool         // through the tunnel (else direct routing)
}

// Equal says whether two peers need the same flows and routes.
func (p *Peer) Equal(o *Peer) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.Name == o.Name && p.NodeIP.Equal(o.NodeIP) && p.Encap == o.Encap &&
		slices.EqualFunc(p.PodCIDRs, o.PodCIDRs, func(a, b *net.IPNet) bool { return a.String() == b.String() })
}

// Owner is the flow owner of the peer's flows: yardctl shows them under the Node's name.
func Owner(node string) flows.Owner { return flows.Owner{Category: flows.Node, Key: node} }

// Decide says whether traffic to a peer with transport address peerIP is encapsulated: always in encap mode, never
// in noEncap mode, and in hybrid mode only when the peer is outside the subnet of this node's transport address
// (peers on the same subnet are one L2 hop away, so the underlay delivers pod packets addressed to them as is).
func Decide(mode string, transport *net.IPNet, peerIP net.IP) bool {
	switch mode {
	case ModeNoEncap:
		return false
	case ModeHybrid:
		return transport == nil || !transport.Contains(peerIP)
	default:
		return true
	}
}

// NodeIP is a Node's transport address: its first InternalIP of the wanted family (IPv4 unless v6), else its first
// InternalIP.
func NodeIP(n *corev1.Node, v6 bool) net.IP {
	var first net.IP
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip := net.ParseIP(a.Address)
		if ip == nil {
			continue
		}
		if (ip.To4() == nil) == v6 {
			return ip
		}
		if first == nil {
			first = ip
		}
	}
	return first
}

// PodCIDRs are a Node's IPv4 pod CIDRs: spec.podCIDRs, else spec.podCIDR. IPv6 CIDRs of dual-stack nodes are left
// out (the pipeline is IPv4). A CIDR that does not parse is an error.
func PodCIDRs(n *corev1.Node) ([]*net.IPNet, error) {
	texts := n.Spec.PodCIDRs
	if len(texts) == 0 && n.Spec.PodCIDR != "" {
		texts = []string{n.Spec.PodCIDR}
	}
	var out []*net.IPNet
	for _, t := range texts {
		_, cidr, err := net.ParseCIDR(t)
		if err != nil {
			return nil, fmt.Errorf("node %s: pod CIDR %q: %w", n.Name, t, err)
		}
		if cidr.IP.To4() != nil {
			out = append(out, cidr)
		}
	}
	return out, nil
}
