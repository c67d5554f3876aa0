package agent

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// verdict says where the traced packet ends up on this node. steps are br-int's lookups (the DNAT'd continuation
// of a Service connection included), described their plain words, pkt the packet as last traced (after DNAT) and
// dropped whether no pass reached a port.
func (n *traceNode) verdict(req api.TraceRequest, pkt tracePacket, steps []openflow.TraceStep, described []api.TraceStep, dropped bool) api.TraceVerdict {
	if dropped {
		v := api.TraceVerdict{Kind: api.VerdictDropped, Reason: "dropped"}
		if len(described) > 0 {
			last := described[len(described)-1]
			v.Table = last.TableName
			v.Reason = strings.TrimPrefix(strings.TrimPrefix(last.Says, "dropped"), ": ")
			if v.Reason == "" {
				v.Reason = "its flow drops the packet"
			}
			if last.OwnerKind != "" {
				v.Decider = last.OwnerKind + " " + stepOwner{last.OwnerKind, last.Owner}.display()
			}
		}
		v.Summary = fmt.Sprintf("dropped in %s: %s", v.Table, v.Reason)
		return v
	}
	port := ""
	for i := len(steps) - 1; i >= 0 && port == ""; i-- {
		port, _ = stepOutputPort(steps[i])
	}
	id, _ := strconv.ParseUint(port, 10, 32)
	next := api.TraceRequest{Src: req.Src, Dst: pkt.Dst.String(), Proto: req.Proto, DPort: pkt.DPort}
	switch {
	case port == "IN_PORT":
		p, _ := n.podByPort(pkt.InPort)
		return api.TraceVerdict{Kind: api.VerdictDelivered, Pod: p.Pod,
			Summary: fmt.Sprintf("delivered back to pod %s (hairpin, port %d)", p.Pod, pkt.InPort)}
	case n.TunnelPort != 0 && uint32(id) == n.TunnelPort:
		tunDst := ""
		for _, s := range steps {
			if v, ok := setField(s, "tun_dst"); ok {
				tunDst = v
			}
		}
		v := api.TraceVerdict{Kind: api.VerdictTunnel, Summary: "into the tunnel towards " + n.tunnelWords(tunDst)}
		if peer, ok := n.peerAt(parseIP(tunDst)); ok {
			v.Node = peer.Name
			next.InPort, next.TunSrc = api.InPortTunnel, ipString(n.TransportIP)
			v.Next = &api.TraceNext{Node: peer.Name, NodeIP: tunDst, Request: next}
		}
		return v
	case uint32(id) == n.GatewayPort && port != "":
		for i, s := range steps {
			if s.Table == flows.L3Forwarding.ID && described[i].OwnerKind == flows.Node.String() {
				peer := described[i].Owner
				v := api.TraceVerdict{Kind: api.VerdictHost, Node: peer,
					Summary: "to the host, which routes it to node " + peer + " (direct routing)"}
				if p, ok := n.peerFor(pkt.Dst); ok && p.Name == peer {
					next.InPort = api.InPortGateway
					v.Next = &api.TraceNext{Node: peer, NodeIP: ipString(p.NodeIP), Request: next}
				}
				return v
			}
		}
		return api.TraceVerdict{Kind: api.VerdictHost,
			Summary: "to the host (gateway): the node routes it (a node address, or outside the pod network)"}
	case port != "":
		if p, ok := n.podByPort(uint32(id)); ok {
			return api.TraceVerdict{Kind: api.VerdictDelivered, Pod: p.Pod,
				Summary: fmt.Sprintf("delivered to pod %s (port %d)", p.Pod, p.OFPort)}
		}
		return api.TraceVerdict{Kind: api.VerdictDelivered, Summary: "output to " + n.portWords(port)}
	}
	return api.TraceVerdict{Kind: api.VerdictHost, Summary: "leaves br-int (datapath actions without an output port)"}
}

// parseIP parses an address, nil if it is not one.
func parseIP(s string) net.IP { return net.ParseIP(s) }

// ipString is ip's text, "" for nil.
func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}
