package agent

import (
	"context"
	"fmt"
	"net"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Packet traces (GET /v1/trace, yardctl trace and explain): ofproto/trace of a connection's first packet, built
// from the agent's state, read step by step with the owners of the matched flows.

// Trace traces the first packet of a new connection through br-int.
func (a *Agent) Trace(ctx context.Context, req api.TraceRequest) (*api.TraceResult, error) {
	if ready, why := a.Ready(); !ready {
		return nil, fmt.Errorf("agent not ready: %s", why)
	}
	n := a.traceNode()
	pkt, from, err := buildPacket(req, n)
	if err != nil {
		return nil, err
	}
	res := &api.TraceResult{Node: a.cfg.NodeName, Request: req, From: from, Flow: pkt.flowText()}
	tr, err := a.of.Trace(ctx, res.Flow)
	if err != nil {
		return nil, err
	}
	steps := a.bridgeSteps(tr)
	dropped := tr.Dropped()
	if id, ok := stoppedAtGroup(steps); ok && dropped {
		merged, nat, last, tr2, err := a.followGroup(ctx, req.Endpoint, pkt, steps, id)
		if err != nil {
			return nil, err
		}
		if tr2 != nil {
			steps, pkt, dropped = merged, last, tr2.Dropped()
		}
		res.NAT = nat
	}
	for _, s := range steps {
		res.Steps = append(res.Steps, n.describeStep(s, a.ownerOf(s.Cookie)))
	}
	for i := range res.Steps {
		if res.Steps[i].Table == flows.EndpointDNAT.ID && steps[i].Depth == simulatedDepth {
			res.Steps[i].Simulated = true
		}
	}
	res.Verdict = n.verdict(req, pkt, steps, res.Steps, dropped)
	if res.NAT != nil && res.NAT.Endpoints == 0 {
		res.Verdict.Reason = "Service " + res.NAT.Service + " has no endpoint for this entry point (its group has no bucket)"
		res.Verdict.Decider = "Service " + res.NAT.Service
		res.Verdict.Summary = "dropped in ServiceLB: " + res.Verdict.Reason
	}
	a.explainRefused(ctx, res, n)
	a.explainPolicy(res, pkt)
	return res, nil
}

// bridgeSteps keeps the lookups in br-int (a tunnelled packet also crosses the physical bridge).
func (a *Agent) bridgeSteps(tr *openflow.Trace) []openflow.TraceStep {
	var out []openflow.TraceStep
	for _, s := range tr.Steps {
		if s.Bridge == "" || s.Bridge == a.cfg.Bridge {
			out = append(out, s)
		}
	}
	return out
}

// ownerOf names the owner of a flow by its cookie.
func (a *Agent) ownerOf(cookie uint64) stepOwner {
	if o, ok := a.store.OwnerOf(cookie); ok {
		return stepOwner{Kind: o.Category.String(), Key: o.Key}
	}
	return stepOwner{}
}

// explainRefused recognises a Service address without endpoints: it has no flows, so the packet goes to the host,
// whose nftables rejects it.
func (a *Agent) explainRefused(ctx context.Context, res *api.TraceResult, n *traceNode) {
	dst := net.ParseIP(res.Request.Dst)
	if res.Verdict.Kind != api.VerdictHost || res.NAT != nil || n.ServiceCIDR == nil || !n.ServiceCIDR.Contains(dst) || a.kube == nil {
		return
	}
	svcs, err := a.kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, s := range svcs.Items {
		ips := append([]string{s.Spec.ClusterIP}, s.Spec.ExternalIPs...)
		for _, ip := range ips {
			if ip != dst.String() {
				continue
			}
			name := s.Namespace + "/" + s.Name
			res.Verdict = api.TraceVerdict{Kind: api.VerdictRefused, Decider: "Service " + name,
				Reason: fmt.Sprintf("Service %s has no ready endpoint for %s/%d: no flows, so the host rejects the connection (TCP reset or ICMP port unreachable)",
					name, res.Request.Proto, res.Request.DPort)}
			res.Verdict.Summary = "refused: " + res.Verdict.Reason
			return
		}
	}
}

// traceNode gathers the node's state for building and reading a trace.
func (a *Agent) traceNode() *traceNode {
	n := &traceNode{Name: a.cfg.NodeName, GatewayPort: a.node.GatewayOFPort, GatewayIP: a.node.GatewayIP,
		GatewayMAC: a.node.GatewayMAC, PodCIDR: a.node.PodCIDR}
	if a.cfg.Encap() {
		n.TunnelPort, n.TunnelType = TunnelOFPort, a.cfg.TunnelType
	}
	if a.transport != nil && a.transport.Addr != nil {
		n.TransportIP = a.transport.Addr.IP.To4()
	}
	if _, c, err := net.ParseCIDR(a.cfg.ServiceCIDR); err == nil {
		n.ServiceCIDR = c
	}
	for _, p := range a.pods.List() {
		if p.IP == nil || p.OFPort <= 0 {
			continue
		}
		name := p.Namespace + "/" + p.Name
		if p.Name == "" {
			name = p.ContainerID
		}
		n.Pods = append(n.Pods, tracePort{Pod: name, IP: p.IP.IP.To4(), MAC: p.MAC, OFPort: uint32(p.OFPort)})
	}
	if a.peers != nil {
		for _, p := range a.peers.Peers() {
			n.Peers = append(n.Peers, tracePeer{Name: p.Name, NodeIP: p.NodeIP, PodCIDRs: p.PodCIDRs, Encap: p.Encap})
		}
	}
	return n
}
