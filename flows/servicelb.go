package flows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Service load balancing (docs/services.md). A new connection leaves ConntrackState for
// SessionAffinity, which recognises a client it has seen (a learned flow loads the endpoint it
// was given); ServiceLB matches the entry point (virtual IP, protocol, port) and, unless affinity
// already chose, sends the packet to the Service's select group, whose bucket loads an endpoint
// into registers; EndpointDNAT commits the connection with nat(dst=endpoint) and marks it in
// ct_mark. Replies and later packets are un-NATed by Conntrack's ct(nat) and never see these
// tables. ConntrackCommit SNATs the connections that need it in a second zone (SNATZone) and
// Conntrack un-SNATs their replies before the pod network's zone un-DNATs them.

// ServiceTables are the tables of Service load balancing.
var ServiceTables = []Table{SessionAffinity, ServiceLB, EndpointDNAT}

// serviceNextTable is where a DNATed connection resumes: the table after the Service tables, so
// that NetworkPolicy egress judges the endpoint.
var serviceNextTable = EgressRule

// DefaultSNATCTZone is the conntrack zone of the SNAT of Service connections; it is separate from
// the pod network's zone because one zone can hold only one NAT per connection.
const DefaultSNATCTZone uint16 = 65521

// Virtual addresses of Service load balancing. None of them leaves the node.
var (
	// VirtualNodePortIP is where the host's nftables DNAT NodePort traffic (node address:nodePort
	// becomes VirtualNodePortIP:nodePort); the host routes it into the gateway.
	VirtualNodePortIP = net.IPv4(169, 254, 0, 252).To4()
	// VirtualServiceIP is the SNAT source of Service connections that the host forwards (to a
	// host-network endpoint or to a peer reached without tunnel). The host routes it back into
	// the gateway and masquerades it when it leaves the node.
	VirtualServiceIP = net.IPv4(169, 254, 0, 253).To4()
	// HairpinIP is the SNAT source of a connection from an endpoint to itself through its
	// Service, so that the endpoint's reply comes back through OVS.
	HairpinIP = net.IPv4(169, 254, 169, 252).To4()
)

// SNAT to the gateway IP uses source ports SNATPortMin..SNATPortMax, which the host does not use
// (its ephemeral ports end at 60999), so that the un-SNAT flows match only Service replies.
const (
	SNATPortMin  uint16 = 0xf000 // 61440
	SNATPortMax  uint16 = 0xffff
	snatPortMask uint16 = 0xf000
)

// MaxAffinityTimeout is the longest session affinity OVS can keep: idle_timeout has 16 bits.
const MaxAffinityTimeout = 65535

// Priorities of the Service flows beyond the shared ones.
const (
	priorityServiceDispatch uint16 = 190 // ConntrackState: below the +inv drop
	priorityEndpointRetry   uint16 = 190 // EndpointDNAT: a learned endpoint that is gone
	priorityUnSNAT          uint16 = 220 // Conntrack: above the tunnel skip flows (210)
	priorityUnSNATDone      uint16 = 221
	prioritySNATHostPorts   uint16 = 213 // ConntrackCommit
	prioritySNATGatewayIP   uint16 = 214
	prioritySNATToHost      uint16 = 215
	prioritySNATFromHost    uint16 = 216
	priorityHairpinSNAT     uint16 = 220
	priorityNodePortReply   uint16 = 210 // L3Forwarding: above the pod and peer routes
	priorityUnSNATReply     uint16 = 190 // L3Forwarding: below the local pod routes
)

// ServiceConfig is what the Service flows need to know about the node.
type ServiceConfig struct {
	Node     NodeConfig
	SNATZone uint16 // conntrack zone of Service SNAT, normally DefaultSNATCTZone
}

// Validate reports what is wrong with the configuration, if anything.
func (c ServiceConfig) Validate() error {
	err := c.Node.Validate()
	if c.SNATZone == c.Node.CTZone {
		err = errors.Join(err, fmt.Errorf("SNAT conntrack zone %d is the pod network's zone", c.SNATZone))
	}
	return err
}

// LoadBalancer is one load balancer: a select group whose buckets are the endpoints, reached from
// one or more entry points of the same protocol (a ClusterIP and its NodePort, externalIPs, ...).
type LoadBalancer struct {
	// ID is the group id and the value of ServiceLBIDField; unique on the node.
	ID       uint32
	Protocol Protocol
	Entries  []ServiceEntry
	// Endpoints are the buckets; none means the group drops (externalTrafficPolicy Local without
	// a local endpoint). A Service without any endpoint gets no LoadBalancer: the host rejects it.
	Endpoints []ServiceEndpoint
	// AffinityTimeout > 0 turns on sessionAffinity ClientIP: a client keeps its endpoint until
	// it opens no new connection for that many seconds (at most MaxAffinityTimeout).
	AffinityTimeout uint32
}

// ServiceEntry is an address where a Service is reached.
type ServiceEntry struct {
	IP   net.IP
	Port uint16
	// NeedSNAT SNATs the connections so that replies come back through this node
	// (externalTrafficPolicy Cluster on NodePort, externalIPs and load balancer IPs).
	NeedSNAT bool
}

// ServiceEndpoint is a backend of a Service port.
type ServiceEndpoint struct {
	IP    net.IP
	Port  uint16
	Local bool // a pod of this node: it may hairpin through its own Service
}

// ValidateServiceLB reports what is wrong with a load balancer, if anything.
func (c ServiceConfig) ValidateLoadBalancer(lb LoadBalancer) error {
	var errs []error
	if lb.ID == 0 || lb.ID > 0xfffffff0 {
		errs = append(errs, fmt.Errorf("service load balancer id %d is not a valid group id (1..%d)", lb.ID, uint32(0xfffffff0)))
	}
	if !lb.Protocol.Valid() {
		errs = append(errs, fmt.Errorf("service load balancer %d: protocol %q is not tcp, udp or sctp", lb.ID, string(lb.Protocol)))
	}
	if len(lb.Entries) == 0 {
		errs = append(errs, fmt.Errorf("service load balancer %d has no entry point", lb.ID))
	}
	if lb.AffinityTimeout > MaxAffinityTimeout {
		errs = append(errs, fmt.Errorf("service load balancer %d: affinity timeout %ds exceeds the %ds OVS can keep", lb.ID, lb.AffinityTimeout, MaxAffinityTimeout))
	}
	for _, e := range lb.Entries {
		if e.IP.To4() == nil || e.Port == 0 {
			errs = append(errs, fmt.Errorf("service load balancer %d: entry %v:%d is not an IPv4 address and port", lb.ID, e.IP, e.Port))
		}
	}
	for _, ep := range lb.Endpoints {
		if ep.IP.To4() == nil || ep.Port == 0 {
			errs = append(errs, fmt.Errorf("service load balancer %d: endpoint %v:%d is not an IPv4 address and port", lb.ID, ep.IP, ep.Port))
		}
	}
	return errors.Join(errs...)
}

// ServicePipelineFlows returns the node's static Service flows: the default flows of the Service
// tables, the dispatch of new connections into them, the SNAT of marked connections and the
// un-SNAT of their replies. cfg must be valid.
func ServicePipelineFlows(cfg ServiceConfig) []openflow.Flow {
	gw := cfg.Node
	flows := []openflow.Flow{
		// Conntrack: un-SNAT the replies of SNATed connections, then un-DNAT them.
		NewFlow(Conntrack, priorityUnSNATDone).IP().Reg(UnSNATDone).
			Then().CT(CTTable(ConntrackState), CTZone(gw.CTZone), CTNAT()).Done(),
		unSNAT(cfg, NewFlow(Conntrack, priorityUnSNAT).IPv4Dst(HairpinIP)),
		unSNAT(cfg, NewFlow(Conntrack, priorityUnSNAT).IPv4Dst(VirtualServiceIP)),
	}
	for _, p := range []Protocol{TCP, UDP, SCTP} {
		flows = append(flows, unSNAT(cfg, NewFlow(Conntrack, priorityUnSNAT).IPv4Dst(gw.GatewayIP).L4(p).L4DstMasked(SNATPortMin, snatPortMask)))
	}
	flows = append(flows,
		// ConntrackState: only new connections can be load-balanced. SessionAffinity is a
		// resubmit, not a goto: its learned flows can only load registers (learn cannot write a
		// goto_table), so ServiceLB must run after it whichever flow matched.
		NewFlow(ConntrackState, priorityServiceDispatch).IP().CtState("+new+trk").
			Then().Resubmit(SessionAffinity).Resubmit(ServiceLB).Done(),
		NewFlow(SessionAffinity, priorityDefault).Then().Load(EndpointToSelect).Done(),
		NewFlow(ServiceLB, priorityDefault).Then().Goto(serviceNextTable),
		NewFlow(EndpointDNAT, priorityDefault).Then().Drop(),
		// L3Forwarding: the reply of a NodePort connection, un-DNATed to VirtualNodePortIP, goes to
		// the host, whose conntrack un-DNATs it to the node address (even when the client is a pod).
		NewFlow(L3Forwarding, priorityNodePortReply).IP().IPv4Src(VirtualNodePortIP).
			Then().SetEthDst(gw.GatewayMAC).Goto(L2ForwardingCalc),
		// A reply that a tunnel brought to the gateway IP (SNAT) and that is un-NATed to an address
		// outside the pod network (an external client) goes to the host, which routes it.
		NewFlow(L3Forwarding, priorityUnSNATReply).IP().Reg(UnSNATDone).EthDst(VirtualMAC).
			Then().SetEthDst(gw.GatewayMAC).Goto(L2ForwardingCalc),
		// Output: a Service packet from the host back to the host leaves through the gateway it
		// came in on: a connection to an endpoint the host reaches (a peer without tunnel, a
		// host-network endpoint) and its reply once un-NATed (SNAT to VirtualServiceIP,
		// un-masqueraded by the host).
		NewFlow(Output, priorityHigh).CtMark(ServiceCTMark).Reg(OutputReady).RegValue(TargetOFPortField, gw.GatewayOFPort).
			InPort(gw.GatewayOFPort).Then().OutputInPort().Done(),
		// ConntrackCommit: a Service connection is committed already; SNAT it if it must be.
		NewFlow(ConntrackCommit, priorityNormal+10).IP().CtState("+new+trk").CtMark(ServiceCTMark).Then().Goto(Output),
	)
	flows = append(flows, snat(cfg, func() *MatchBuilder {
		return NewFlow(ConntrackCommit, priorityHairpinSNAT).CtMark(HairpinCTMark).Reg(OutputReady)
	}, HairpinIP, 0, 0)...)
	flows = append(flows, snat(cfg, func() *MatchBuilder {
		return NewFlow(ConntrackCommit, prioritySNATFromHost).CtMark(ServiceCTMark).Reg(FromGateway).
			RegValue(TargetOFPortField, gw.GatewayOFPort)
	}, VirtualServiceIP, 0, 0)...)
	flows = append(flows, snat(cfg, func() *MatchBuilder {
		return NewFlow(ConntrackCommit, prioritySNATToHost).CtMark(SNATCTMark).RegValue(TargetOFPortField, gw.GatewayOFPort)
	}, VirtualServiceIP, 0, 0)...)
	flows = append(flows, snat(cfg, func() *MatchBuilder {
		return NewFlow(ConntrackCommit, prioritySNATGatewayIP).CtMark(SNATCTMark).Reg(OutputReady)
	}, gw.GatewayIP, SNATPortMin, SNATPortMax)...)
	// The host's own Service connections (source: the gateway IP) get a source port in the
	// SNAT range, so that a remote endpoint's reply, which comes back through the tunnel to
	// the gateway IP, is un-SNATed and un-DNATed instead of skipping conntrack.
	return append(flows, snat(cfg, func() *MatchBuilder {
		return NewFlow(ConntrackCommit, prioritySNATHostPorts).CtMark(ServiceCTMark).Reg(FromGateway).IPv4Src(gw.GatewayIP)
	}, gw.GatewayIP, SNATPortMin, SNATPortMax)...)
}

// unSNAT un-SNATs a reply in the SNAT zone and runs Conntrack again, where UnSNATDone sends it
// through the pod network's zone.
func unSNAT(cfg ServiceConfig, m *MatchBuilder) openflow.Flow {
	return m.Then().Load(UnSNATDone).CT(CTTable(Conntrack), CTZone(cfg.SNATZone), CTNAT()).Done()
}

// snat commits a new, marked connection that is ready for output in the SNAT zone with a new
// source, and outputs it; the later packets of the connection in the original direction go
// through the SNAT zone's ct(nat) too, which applies the same SNAT (without it only the first
// packet would be SNATed: a hairpin TCP connection's ACK would reach the endpoint from its own
// address and be reset). Replies are un-SNATed in Conntrack. match returns a fresh match (it is
// called twice) that says "ready for output" with OutputReady, or with TargetOFPort (set only
// together with it; two fields of reg0 would not print as one match).
func snat(cfg ServiceConfig, match func() *MatchBuilder, src net.IP, minPort, maxPort uint16) []openflow.Flow {
	return []openflow.Flow{
		match().IP().CtState("+new+trk").
			Then().CT(CTCommit(), CTTable(Output), CTZone(cfg.SNATZone), CTSNAT(src, minPort, maxPort), CTExec(ServiceCTMark.Set())).Done(),
		match().IP().CtState("-new-rpl+trk").
			Then().CT(CTTable(Output), CTZone(cfg.SNATZone), CTNAT()).Done(),
	}
}

// ServiceFlows returns the flows and groups of load balancers (normally those of one Service).
// cfg and every lb must be valid (see ValidateLoadBalancer).
func ServiceFlows(cfg ServiceConfig, lbs []LoadBalancer) ([]openflow.Flow, []openflow.Group) {
	var flows []openflow.Flow
	var groups []openflow.Group
	for _, lb := range lbs {
		groups = append(groups, serviceGroup(lb))
		for _, e := range lb.Entries {
			flows = append(flows, serviceEntryFlows(lb, e)...)
		}
		for _, ep := range lb.Endpoints {
			flows = append(flows, endpointDNAT(cfg, lb, ep, false))
			if ep.Local {
				flows = append(flows, endpointDNAT(cfg, lb, ep, true))
			}
		}
		if lb.AffinityTimeout > 0 {
			// A learned endpoint that is no longer a bucket: select again (and learn anew).
			flows = append(flows, NewFlow(EndpointDNAT, priorityEndpointRetry).RegValue(ServiceLBIDField, lb.ID).
				Then().Load(EndpointToSelect).Resubmit(ServiceLB).Done())
		}
	}
	return flows, groups
}

// serviceGroup is the select group of lb: each bucket loads one endpoint and resubmits to
// EndpointDNAT, or with affinity to ServiceLB, which learns the choice first.
func serviceGroup(lb LoadBalancer) openflow.Group {
	next := EndpointDNAT
	if lb.AffinityTimeout > 0 {
		next = ServiceLB
	}
	// dp_hash with its default algorithm hashes the 5-tuple: without a selection method OVS hashes
	// symmetrically and leaves out UDP ports, so all of a client's UDP flows chose one endpoint.
	g := openflow.Group{ID: lb.ID, Type: openflow.GroupSelect, SelectionMethod: "dp_hash"}
	for i, ep := range lb.Endpoints {
		g.Buckets = append(g.Buckets, openflow.Bucket{ID: uint32(i), Weight: 100, Actions: Bucket().
			LoadValue(EndpointIPField, ipv4Value(ep.IP)).LoadValue(EndpointPortField, uint32(ep.Port)).
			Resubmit(next).Actions()})
	}
	return g
}

// SelectHash is a dp_hash value with which a Service's select group (serviceGroup: dp_hash, equal weights) of n
// buckets takes bucket k. OVS maps dp_hash & mask, mask = max(16, n rounded up to a power of two) - 1, to buckets
// by Webster's method, which with equal weights is round robin: value v takes bucket v mod n. dp_hash 0 means "not
// computed yet", so the value is mask+1+k. ofproto/trace given this dp_hash follows that bucket (the datapath
// computes its own from the packet: a hash of its 5-tuple, randomly seeded in the kernel datapath).
func SelectHash(k, n int) uint32 {
	slots := 16
	for slots < n {
		slots *= 2
	}
	return uint32(slots + k)
}

// serviceEntryFlows are the ServiceLB flows of one entry point.
func serviceEntryFlows(lb LoadBalancer, e ServiceEntry) []openflow.Flow {
	match := func(state *RegMark) *MatchBuilder {
		m := NewFlow(ServiceLB, priorityNormal).IPv4Dst(e.IP).L4(lb.Protocol).L4Dst(e.Port)
		if state != nil {
			m.Reg(*state)
		}
		return m
	}
	choose := func(a *ActionBuilder) *ActionBuilder {
		a.LoadValue(ServiceLBIDField, lb.ID)
		if e.NeedSNAT {
			a.Load(ServiceNeedSNAT)
		}
		return a
	}
	if lb.AffinityTimeout == 0 {
		return []openflow.Flow{choose(match(nil).Then()).Group(lb.ID).Done()}
	}
	learn := LearnSpec{Table: SessionAffinity, Protocol: lb.Protocol, IdleTimeout: uint16(lb.AffinityTimeout),
		Priority: priorityNormal, Cookie: AffinityCookie(lb.ID)}
	return []openflow.Flow{
		choose(match(&EndpointToSelect).Then()).Load(EndpointToLearn).Group(lb.ID).Done(),
		match(&EndpointToLearn).Then().Learn(learn).Load(EndpointSelected).Goto(EndpointDNAT),
		choose(match(&EndpointSelected).Then()).Goto(EndpointDNAT),
	}
}

// AffinityCookie is the cookie of the flows learned for load balancer id. Its round is 0, so the
// next Reconcile removes them (affinity does not survive an agent restart); delete_learned
// removes them when the Service's learn flow goes (affinity turned off, Service deleted).
func AffinityCookie(id uint32) uint64 { return MakeCookie(0, Service, uint64(id)) }

// endpointDNAT commits a connection to ep with DNAT and the Service marks. The hairpin variant
// matches a local endpoint connecting to itself and marks it for SNAT to HairpinIP.
func endpointDNAT(cfg ServiceConfig, lb LoadBalancer, ep ServiceEndpoint, hairpin bool) openflow.Flow {
	m := NewFlow(EndpointDNAT, priorityNormal)
	exec := []string{ServiceCTMark.Set(), MoveToCtMark(ServiceNeedSNATField, SNATCTField)}
	if hairpin {
		m = NewFlow(EndpointDNAT, priorityHigh).IPv4Src(ep.IP)
		exec = append(exec, HairpinCTMark.Set())
	}
	return m.L4(lb.Protocol).RegValue(EndpointIPField, ipv4Value(ep.IP)).RegValue(EndpointPortField, uint32(ep.Port)).
		RegValue(ServiceLBIDField, lb.ID).
		Then().CT(CTCommit(), CTTable(serviceNextTable), CTZone(cfg.Node.CTZone), CTDNAT(ep.IP, ep.Port), CTExec(exec...)).Done()
}

// ipv4Value is an IPv4 address as a register value.
func ipv4Value(ip net.IP) uint32 {
	v4 := ip.To4()
	if v4 == nil {
		panic(fmt.Sprintf("flows: %q is not an IPv4 address", ip.String()))
	}
	return binary.BigEndian.Uint32(v4)
}
