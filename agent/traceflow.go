package agent

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/podnet"
	"github.com/switchyard-net/switchyard/flows"
)

// traceSourcePort is the source port of traced TCP and UDP packets (any ephemeral port would do).
const traceSourcePort = 43210

// tracePacket is the first packet of a new connection as it enters br-int, the input of ofproto/trace.
type tracePacket struct {
	InPort         uint32
	TunSrc, TunDst net.IP // set when the packet comes from the tunnel
	DlSrc, DlDst   net.HardwareAddr
	Src, Dst       net.IP
	Proto          string // tcp, udp or icmp
	SPort, DPort   uint16
	TTL            uint8
	// DPHash, when not 0, is the datapath hash the packet carries: the one that makes a Service's select group
	// take a chosen bucket (flows.SelectHash).
	DPHash uint32
}

// flowText is the packet in ovs-ofctl flow syntax, as ofproto/trace takes it.
func (p tracePacket) flowText() string {
	parts := []string{"in_port=" + strconv.FormatUint(uint64(p.InPort), 10)}
	if p.TunSrc != nil {
		parts = append(parts, "tun_src="+p.TunSrc.String(), "tun_dst="+p.TunDst.String(), fmt.Sprintf("tun_id=%d", flows.TunnelID))
	}
	parts = append(parts, "dl_src="+p.DlSrc.String(), "dl_dst="+p.DlDst.String(), p.Proto,
		"nw_src="+p.Src.String(), "nw_dst="+p.Dst.String(), fmt.Sprintf("nw_ttl=%d", p.TTL))
	if p.Proto == "icmp" {
		parts = append(parts, "icmp_type=8", "icmp_code=0")
	} else {
		parts = append(parts, fmt.Sprintf("tp_src=%d", p.SPort), fmt.Sprintf("tp_dst=%d", p.DPort))
	}
	if p.DPHash != 0 {
		parts = append(parts, fmt.Sprintf("dp_hash=%d", p.DPHash))
	}
	return strings.Join(parts, ",")
}

// tracePort is a local pod's port as the trace needs it.
type tracePort struct {
	Pod    string // namespace/name
	IP     net.IP
	MAC    net.HardwareAddr
	OFPort uint32
}

// tracePeer is a peer node as the trace needs it.
type tracePeer struct {
	Name     string
	NodeIP   net.IP
	PodCIDRs []*net.IPNet
	Encap    bool
}

// traceNode is what the agent knows about its node for building and reading traces.
type traceNode struct {
	Name        string
	GatewayPort uint32
	GatewayIP   net.IP
	GatewayMAC  net.HardwareAddr
	PodCIDR     *net.IPNet
	TunnelPort  uint32 // 0 without a tunnel (noEncap)
	TunnelType  string
	TransportIP net.IP
	ServiceCIDR *net.IPNet
	Pods        []tracePort
	Peers       []tracePeer
}

func (n *traceNode) podByIP(ip net.IP) (tracePort, bool) {
	for _, p := range n.Pods {
		if p.IP.Equal(ip) {
			return p, true
		}
	}
	return tracePort{}, false
}

func (n *traceNode) podByPort(ofport uint32) (tracePort, bool) {
	for _, p := range n.Pods {
		if p.OFPort == ofport {
			return p, true
		}
	}
	return tracePort{}, false
}

// peerFor returns the peer whose pod CIDR holds ip.
func (n *traceNode) peerFor(ip net.IP) (tracePeer, bool) {
	for _, p := range n.Peers {
		for _, c := range p.PodCIDRs {
			if c.Contains(ip) {
				return p, true
			}
		}
	}
	return tracePeer{}, false
}

// peerAt returns the peer with transport address ip.
func (n *traceNode) peerAt(ip net.IP) (tracePeer, bool) {
	for _, p := range n.Peers {
		if p.NodeIP.Equal(ip) {
			return p, true
		}
	}
	return tracePeer{}, false
}

// buildPacket turns a trace request into the packet entering br-int, and says in words where it comes from. The
// MACs are those the sender would use: a pod addresses local pods of its subnet directly and everything else to its
// gateway; the host addresses local pods directly and remote pods (encap) to the virtual MAC of the peer gateways'
// neighbour entries; a tunnelled packet arrives from the peer's gateway MAC addressed to the virtual MAC.
func buildPacket(req api.TraceRequest, n *traceNode) (tracePacket, string, error) {
	p := tracePacket{Src: net.ParseIP(req.Src).To4(), Dst: net.ParseIP(req.Dst).To4(), Proto: req.Proto, TTL: 64}
	if p.Src == nil || p.Dst == nil {
		return p, "", fmt.Errorf("src %q and dst %q must be IPv4 addresses", req.Src, req.Dst)
	}
	if req.Proto != "icmp" {
		p.SPort, p.DPort = traceSourcePort, req.DPort
	}
	fromHost := false
	var from string
	switch {
	case req.InPort == api.InPortTunnel:
		if n.TunnelPort == 0 {
			return p, "", fmt.Errorf("node %s has no tunnel port (noEncap mode)", n.Name)
		}
		p.InPort, p.TunSrc, p.TunDst, p.TTL = n.TunnelPort, net.ParseIP(req.TunSrc).To4(), n.TransportIP, 63
		if p.TunSrc == nil || p.TunDst == nil {
			return p, "", fmt.Errorf("tunnel trace needs tun_src %q and this node's transport address", req.TunSrc)
		}
		p.DlSrc, p.DlDst = flows.VirtualMAC, flows.VirtualMAC
		from = "the tunnel from " + req.TunSrc
		if peer, ok := n.peerAt(p.TunSrc); ok {
			from = "the tunnel from node " + peer.Name
			if len(peer.PodCIDRs) > 0 {
				p.DlSrc = podnet.PodMAC(firstIP(peer.PodCIDRs[0]))
			}
		}
		return p, from, nil
	case req.InPort == api.InPortGateway || req.InPort == "" && p.Src.Equal(n.GatewayIP):
		fromHost = true
	case req.InPort != "":
		port, err := strconv.ParseUint(req.InPort, 10, 32)
		if err != nil {
			return p, "", fmt.Errorf("in_port %q: want a port number, %q or %q", req.InPort, api.InPortGateway, api.InPortTunnel)
		}
		if uint32(port) == n.GatewayPort {
			fromHost = true
			break
		}
		pod, ok := n.podByPort(uint32(port))
		if !ok {
			return p, "", fmt.Errorf("in_port %d is not a pod port on node %s", port, n.Name)
		}
		p.InPort, p.DlSrc = pod.OFPort, pod.MAC
		from = fmt.Sprintf("pod %s (port %d)", pod.Pod, pod.OFPort)
		if !pod.IP.Equal(p.Src) {
			from += fmt.Sprintf(", with source %s instead of its own %s", p.Src, pod.IP)
		}
	default:
		pod, ok := n.podByIP(p.Src)
		if !ok {
			return p, "", fmt.Errorf("%s is not a pod on node %s: trace on the node that runs it (yardctl trace does with --kubeconfig and --socket-template), or say where it enters with in_port", p.Src, n.Name)
		}
		p.InPort, p.DlSrc = pod.OFPort, pod.MAC
		from = fmt.Sprintf("pod %s (port %d)", pod.Pod, pod.OFPort)
	}
	local := n.PodCIDR != nil && n.PodCIDR.Contains(p.Dst) && !p.Dst.Equal(n.GatewayIP)
	peer, remote := n.peerFor(p.Dst)
	switch {
	case fromHost:
		p.InPort, p.DlSrc, p.DlDst = n.GatewayPort, n.GatewayMAC, n.GatewayMAC
		from = "the host (gateway port " + strconv.FormatUint(uint64(n.GatewayPort), 10) + ")"
		if local {
			p.DlDst = podnet.PodMAC(p.Dst)
		} else if remote && peer.Encap {
			p.DlDst = flows.VirtualMAC
		}
	case local:
		p.DlDst = podnet.PodMAC(p.Dst)
	default:
		p.DlDst = n.GatewayMAC
	}
	if pod, ok := n.podByIP(p.Dst); ok && p.DlDst.String() != n.GatewayMAC.String() {
		p.DlDst = pod.MAC
	}
	return p, from, nil
}

// firstIP is the first address of a CIDR (a node's gateway IP).
func firstIP(c *net.IPNet) net.IP {
	ip := append(net.IP(nil), c.IP.To4()...)
	if ip == nil {
		return nil
	}
	ip[3]++
	return ip
}
