// Package topology lays out the lab's network: an underlay (one L2 segment, or two subnets joined by a router
// namespace), a namespace per node, one for the control plane and one playing an external host. Everything lives in
// namespaces the lab creates; nothing is routed towards the host's uplink.
package topology

import (
	"fmt"
	"net"
)

// Topologies.
const (
	Flat       = "flat"        // every node on one L2 segment
	TwoSubnets = "two-subnets" // nodes split over two subnets joined by a router (for hybrid mode)
)

// Plan is the lab's address and name plan. Every range is configurable.
type Plan struct {
	Name        string // lab name: every namespace is named "sy<Name>-..."
	Nodes       int
	Topology    string
	UnderlayA   *net.IPNet // first (or only) underlay subnet
	UnderlayB   *net.IPNet // second subnet (two-subnets only)
	ClusterCIDR *net.IPNet // pod CIDRs of all nodes are carved from it
	ServiceCIDR *net.IPNet
}

// NewPlan validates and returns a plan.
func NewPlan(name string, nodes int, topo, underlayA, underlayB, cluster, service string) (*Plan, error) {
	p := &Plan{Name: name, Nodes: nodes, Topology: topo}
	if nodes < 1 || nodes > 20 {
		return nil, fmt.Errorf("--nodes %d: want 1..20", nodes)
	}
	if len(name) == 0 || len(name) > 6 {
		return nil, fmt.Errorf("lab name %q: want 1..6 characters (it prefixes namespace names)", name)
	}
	if topo != Flat && topo != TwoSubnets {
		return nil, fmt.Errorf("--topology %q: want %s or %s", topo, Flat, TwoSubnets)
	}
	var err error
	for _, f := range []struct {
		flag, v string
		dst     **net.IPNet
	}{{"--underlay-cidr", underlayA, &p.UnderlayA}, {"--underlay2-cidr", underlayB, &p.UnderlayB},
		{"--cluster-cidr", cluster, &p.ClusterCIDR}, {"--service-cidr", service, &p.ServiceCIDR}} {
		var ip net.IP
		if ip, *f.dst, err = net.ParseCIDR(f.v); err != nil || ip.To4() == nil {
			return nil, fmt.Errorf("%s %q: not an IPv4 CIDR", f.flag, f.v)
		}
	}
	if ones, _ := p.UnderlayA.Mask.Size(); ones > 26 {
		return nil, fmt.Errorf("--underlay-cidr %s is too small", p.UnderlayA)
	}
	ranges := []*net.IPNet{p.UnderlayA, p.ClusterCIDR, p.ServiceCIDR}
	if topo == TwoSubnets {
		ranges = append(ranges, p.UnderlayB)
	}
	for i := range ranges {
		for j := i + 1; j < len(ranges); j++ {
			if overlap(ranges[i], ranges[j]) {
				return nil, fmt.Errorf("lab ranges %s and %s overlap", ranges[i], ranges[j])
			}
		}
	}
	return p, nil
}

// Ranges are every range the lab uses (for the host-route safety check).
func (p *Plan) Ranges() []*net.IPNet {
	r := []*net.IPNet{p.UnderlayA, p.ClusterCIDR, p.ServiceCIDR}
	if p.Topology == TwoSubnets {
		r = append(r, p.UnderlayB)
	}
	return r
}

func (p *Plan) prefix() string { return "sy" + p.Name }

// Namespace names.
func (p *Plan) UnderlayNS() string     { return p.prefix() + "-ul" }
func (p *Plan) RouterNS() string       { return p.prefix() + "-rt" }
func (p *Plan) ControlPlaneNS() string { return p.prefix() + "-cp" }
func (p *Plan) ExternalNS() string     { return p.prefix() + "-ext" }
func (p *Plan) NodeNS(i int) string    { return fmt.Sprintf("%s-n%d", p.prefix(), i) }

// PodNetnsPrefix prefixes the pods' namespaces of node i.
func (p *Plan) PodNetnsPrefix(i int) string { return fmt.Sprintf("%s-n%dp", p.prefix(), i) }

// NodeName is node i's Kubernetes name (1-based).
func (p *Plan) NodeName(i int) string { return fmt.Sprintf("node%d", i) }

// NodeSubnet is the underlay subnet node i sits on.
func (p *Plan) NodeSubnet(i int) *net.IPNet {
	if p.Topology == TwoSubnets && i > (p.Nodes+1)/2 {
		return p.UnderlayB
	}
	return p.UnderlayA
}

// NodeIP is node i's underlay (InternalIP) address: .10+i of its subnet.
func (p *Plan) NodeIP(i int) net.IP { return host(p.NodeSubnet(i), 10+i) }

// ControlPlaneIP is the API server's address on the underlay.
func (p *Plan) ControlPlaneIP() net.IP { return host(p.UnderlayA, 2) }

// ExternalIP is the external host's address.
func (p *Plan) ExternalIP() net.IP { return host(p.UnderlayA, 100) }

// RouterIP is the router's address on a subnet (two-subnets).
func (p *Plan) RouterIP(subnet *net.IPNet) net.IP { return host(subnet, 1) }

func host(n *net.IPNet, i int) net.IP {
	ip := make(net.IP, 4)
	copy(ip, n.IP.To4())
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v += uint32(i)
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

func overlap(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// CIDRString is "ip/prefix" of an address in a subnet.
func CIDRString(ip net.IP, subnet *net.IPNet) string {
	ones, _ := subnet.Mask.Size()
	return fmt.Sprintf("%s/%d", ip, ones)
}
