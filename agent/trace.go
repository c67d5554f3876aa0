package agent

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Packet traces (GET /v1/trace, yardctl trace and explain): ofproto/trace of a connection's first packet, built
// from the agent's state, read step by step with the owners of the matched flows.

var (
	bucketIPRe   = regexp.MustCompile(`set_field:0x([0-9a-f]+)->reg3`)
	bucketPortRe = regexp.MustCompile(`set_field:0x([0-9a-f]+)/0xffff->reg4`)
	ctTableRe    = regexp.MustCompile(`ct\([^)]*table=(\d+)`)
	nwSrcRe      = regexp.MustCompile(`nw_src=([0-9.]+)`)
)

// simulatedDepth marks the EndpointDNAT step the agent adds for a select group's bucket (no real lookup has a
// negative nesting depth).
const simulatedDepth = -1

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
		merged, nat, last, tr2, err := a.followGroup(ctx, pkt, steps, id)
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

// stoppedAtGroup says whether the trace ends in ServiceLB at a select group: ofproto/trace does not follow a select
// group whose bucket is chosen by a datapath hash.
func stoppedAtGroup(steps []openflow.TraceStep) (uint32, bool) {
	if len(steps) == 0 || steps[len(steps)-1].Table != flows.ServiceLB.ID {
		return 0, false
	}
	for _, act := range steps[len(steps)-1].Actions {
		if m := groupRe.FindStringSubmatch(act.Text); m != nil {
			id, err := strconv.ParseUint(m[1], 10, 32)
			return uint32(id), err == nil
		}
	}
	return 0, false
}

// followGroup continues a Service connection's trace past its select group: it takes the group's first bucket
// (the endpoint it loads), adds the endpoint's EndpointDNAT flow as a step, and traces the DNAT'd tuple, whose
// steps from the table the DNAT resumes in are appended. A group without buckets gives a ServiceNAT with no
// endpoints and no continuation.
func (a *Agent) followGroup(ctx context.Context, pkt tracePacket, steps []openflow.TraceStep, id uint32) ([]openflow.TraceStep, *api.ServiceNAT, tracePacket, *openflow.Trace, error) {
	lb := steps[len(steps)-1]
	nat := &api.ServiceNAT{Service: a.ownerOf(lb.Cookie).Key}
	groups, err := a.of.DumpGroups(ctx)
	if err != nil {
		return nil, nil, pkt, nil, err
	}
	var bucket string
	for _, g := range groups {
		if g.ID == id {
			nat.Endpoints = len(g.Buckets)
			if len(g.Buckets) > 0 {
				bucket = g.Buckets[0].Actions
			}
		}
	}
	ipm, portm := bucketIPRe.FindStringSubmatch(bucket), bucketPortRe.FindStringSubmatch(bucket)
	if ipm == nil || portm == nil {
		return nil, nat, pkt, nil, nil
	}
	ipv, _ := strconv.ParseUint(ipm[1], 16, 32)
	port, _ := strconv.ParseUint(portm[1], 16, 16)
	ep := net.IPv4(byte(ipv>>24), byte(ipv>>16), byte(ipv>>8), byte(ipv)).To4()
	nat.Endpoint = net.JoinHostPort(ep.String(), strconv.FormatUint(port, 10))

	dnat, err := a.endpointFlow(ctx, ipm[1], portm[1], id, pkt.Src)
	if err != nil || dnat == nil {
		return nil, nat, pkt, nil, err
	}
	next := pkt
	next.Dst, next.DPort = ep, uint16(port)
	tr2, err := a.of.Trace(ctx, next.flowText())
	if err != nil {
		return nil, nil, pkt, nil, err
	}
	resume := flows.L3Forwarding.ID
	if m := ctTableRe.FindStringSubmatch(dnat.Actions); m != nil {
		if t, err := strconv.ParseUint(m[1], 10, 8); err == nil {
			resume = uint8(t)
		}
	}
	merged := append(append([]openflow.TraceStep(nil), steps...), openflow.TraceStep{Table: dnat.Table, Depth: simulatedDepth,
		Priority: dnat.Priority, Cookie: dnat.Cookie, Match: dnat.Match, Actions: []openflow.TraceAction{{Text: dnat.Actions}}})
	rest := a.bridgeSteps(tr2)
	for i, s := range rest {
		if s.Pass > 0 && s.Table >= resume {
			merged = append(merged, rest[i:]...)
			break
		}
	}
	return merged, nat, next, tr2, nil
}

// endpointFlow finds the EndpointDNAT flow of an endpoint (reg3, reg4 as the bucket loads them) of load balancer
// id: the hairpin twin when the client is the endpoint itself.
func (a *Agent) endpointFlow(ctx context.Context, ipHex, portHex string, id uint32, src net.IP) (*openflow.Flow, error) {
	dumped, err := a.of.DumpFlows(ctx)
	if err != nil {
		return nil, err
	}
	want := []string{"reg3=0x" + ipHex, "reg4=0x" + portHex + "/0xffff", fmt.Sprintf("reg5=0x%x", id)}
	var best *openflow.Flow
	for i, f := range dumped {
		if f.Table != flows.EndpointDNAT.ID {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(","+f.Match+",", ","+w+",")
		}
		if m := nwSrcRe.FindStringSubmatch(f.Match); m != nil && !net.ParseIP(m[1]).Equal(src) {
			ok = false
		}
		if ok && (best == nil || f.Priority > best.Priority) {
			best = &dumped[i]
		}
	}
	return best, nil
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
