package agent

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// A Service connection's trace stops at the Service's select group: ofproto/trace cannot know the datapath's hash
// (dp_hash) of a packet it only simulates. The agent picks a bucket: the endpoint the user named; else the one the
// datapath gave a real connection of the client to this Service, if conntrack holds one; else the first. It traces
// again with a dp_hash that selects it (flows.SelectHash), so OVS itself follows that bucket. Should
// that not reach the bucket, it falls back to simulating it: the endpoint's EndpointDNAT flow as a step, and the
// DNAT'd tuple traced from the table the DNAT resumes in.

var (
	bucketIPRe   = regexp.MustCompile(`set_field:0x([0-9a-f]+)->reg3`)
	bucketPortRe = regexp.MustCompile(`set_field:0x([0-9a-f]+)/0xffff->reg4`)
	ctTableRe    = regexp.MustCompile(`ct\([^)]*table=(\d+)`)
	nwSrcRe      = regexp.MustCompile(`nw_src=([0-9.]+)`)
)

// simulatedDepth marks the EndpointDNAT step the agent adds for a select group's bucket (no real lookup has a
// negative nesting depth).
const simulatedDepth = -1

// stoppedAtGroup says whether the trace ends in ServiceLB at a select group.
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

// bucket is one bucket of a Service's group: the endpoint it loads (reg3, reg4 in hex as the bucket sets them).
type bucket struct {
	ip             net.IP
	port           uint16
	ipHex, portHex string
}

func (b bucket) String() string { return net.JoinHostPort(b.ip.String(), strconv.Itoa(int(b.port))) }

// groupBuckets reads the endpoints of group id's buckets, in bucket order.
func (a *Agent) groupBuckets(ctx context.Context, id uint32) ([]bucket, error) {
	groups, err := a.of.DumpGroups(ctx)
	if err != nil {
		return nil, err
	}
	var out []bucket
	for _, g := range groups {
		if g.ID != id {
			continue
		}
		for _, b := range g.Buckets {
			ipm, portm := bucketIPRe.FindStringSubmatch(b.Actions), bucketPortRe.FindStringSubmatch(b.Actions)
			if ipm == nil || portm == nil {
				return nil, fmt.Errorf("group %d: bucket %d loads no endpoint: %s", id, b.ID, b.Actions)
			}
			ipv, _ := strconv.ParseUint(ipm[1], 16, 32)
			port, _ := strconv.ParseUint(portm[1], 16, 16)
			out = append(out, bucket{ip: net.IPv4(byte(ipv>>24), byte(ipv>>16), byte(ipv>>8), byte(ipv)).To4(), port: uint16(port),
				ipHex: ipm[1], portHex: portm[1]})
		}
	}
	return out, nil
}

// chooseBucket is the bucket of the endpoint named ("ip" or "ip:port"; "" for the first).
func chooseBucket(buckets []bucket, endpoint string) (int, error) {
	if endpoint == "" {
		return 0, nil
	}
	for i, b := range buckets {
		if endpoint == b.ip.String() || endpoint == b.String() {
			return i, nil
		}
	}
	names := make([]string, len(buckets))
	for i, b := range buckets {
		names[i] = b.String()
	}
	return 0, fmt.Errorf("endpoint %s is not one of the Service's endpoints (%s)", endpoint, strings.Join(names, ", "))
}

// followGroup continues a Service connection's trace past its select group id through the bucket of endpoint (or
// the first), returning the whole trace's steps, the Service's NAT, the packet after DNAT and the trace that
// decides the verdict. A group without buckets gives a ServiceNAT with no endpoints and no continuation.
func (a *Agent) followGroup(ctx context.Context, endpoint string, pkt tracePacket, steps []openflow.TraceStep, id uint32) ([]openflow.TraceStep, *api.ServiceNAT, tracePacket, *openflow.Trace, error) {
	nat := &api.ServiceNAT{Service: a.ownerOf(steps[len(steps)-1].Cookie).Key, Group: id}
	buckets, err := a.groupBuckets(ctx, id)
	if err != nil {
		return nil, nil, pkt, nil, err
	}
	nat.Endpoints = len(buckets)
	if len(buckets) == 0 {
		return nil, nat, pkt, nil, nil
	}
	nat.Chosen = api.ChosenNamed
	if endpoint == "" {
		nat.Chosen = api.ChosenFirst
		if ep, sport, ok := a.conntrackEndpoint(ctx, pkt, buckets); ok {
			endpoint, nat.Chosen, nat.ClientPort = ep, api.ChosenConntrack, sport
		}
	}
	k, err := chooseBucket(buckets, endpoint)
	if err != nil {
		return nil, nil, pkt, nil, fmt.Errorf("Service %s: %w", nat.Service, err)
	}
	b := buckets[k]
	nat.Bucket, nat.Endpoint = k, b.String()
	for _, o := range buckets {
		nat.Choices = append(nat.Choices, o.String())
	}
	next := pkt
	next.Dst, next.DPort = b.ip, b.port

	hashed := pkt
	hashed.DPHash = flows.SelectHash(k, len(buckets))
	tr, err := a.of.Trace(ctx, hashed.flowText())
	if err != nil {
		return nil, nil, pkt, nil, err
	}
	if all := a.bridgeSteps(tr); reachesBucket(all, b) {
		return all, nat, next, tr, nil
	}
	merged, tr2, err := a.simulateBucket(ctx, pkt, next, steps, id, b)
	if err != nil || tr2 == nil {
		return nil, nat, pkt, nil, err
	}
	return merged, nat, next, tr2, nil
}

// conntrackEndpoint finds a connection of pkt's client to pkt's Service address and port in the pipeline's
// conntrack zone whose replies come from one of the buckets: the endpoint the datapath chose for it, and the
// client's source port. With several, the one from the highest source port (often the latest).
func (a *Agent) conntrackEndpoint(ctx context.Context, pkt tracePacket, buckets []bucket) (string, uint16, bool) {
	entries, err := a.of.DumpConntrack(ctx, uint16(a.cfg.CTZone))
	if err != nil {
		return "", 0, false
	}
	var best *openflow.CTEntry
	for i, e := range entries {
		if e.Proto != pkt.Proto || !e.OrigSrc.Equal(pkt.Src) || !e.OrigDst.Equal(pkt.Dst) || e.OrigDport != pkt.DPort {
			continue
		}
		for _, b := range buckets {
			if e.ReplySrc.Equal(b.ip) && e.ReplySport == b.port && (best == nil || e.OrigSport > best.OrigSport) {
				best = &entries[i]
			}
		}
	}
	if best == nil {
		return "", 0, false
	}
	return net.JoinHostPort(best.ReplySrc.String(), strconv.Itoa(int(best.ReplySport))), best.OrigSport, true
}

// reachesBucket says whether a trace went through b's EndpointDNAT flow.
func reachesBucket(steps []openflow.TraceStep, b bucket) bool {
	for _, s := range steps {
		m := "," + s.Match + ","
		if s.Table == flows.EndpointDNAT.ID && strings.Contains(m, ",reg3=0x"+b.ipHex+",") && strings.Contains(m, ",reg4=0x"+b.portHex+"/0xffff,") {
			return true
		}
	}
	return false
}

// simulateBucket adds b's EndpointDNAT flow as a (simulated) step after steps and appends the trace of the DNAT'd
// packet next from the table the DNAT resumes in.
func (a *Agent) simulateBucket(ctx context.Context, pkt, next tracePacket, steps []openflow.TraceStep, id uint32, b bucket) ([]openflow.TraceStep, *openflow.Trace, error) {
	dnat, err := a.endpointFlow(ctx, b.ipHex, b.portHex, id, pkt.Src)
	if err != nil || dnat == nil {
		return nil, nil, err
	}
	tr2, err := a.of.Trace(ctx, next.flowText())
	if err != nil {
		return nil, nil, err
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
	return merged, tr2, nil
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
