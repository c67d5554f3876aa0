package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/agent/proxy"
	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// The agent's views of Services (GET /v1/services, yardctl services) and NetworkPolicies (GET /v1/policies,
// yardctl policies): what the controllers installed, checked against and counted from br-int.

// ownerCounts are the installed flows and their packets per owner.
type ownerCounts map[flows.Owner]struct {
	flows   int
	packets uint64
}

// countByOwner dumps br-int and counts the flows and packets of each owner of category cat.
func (a *Agent) countByOwner(ctx context.Context, cat flows.Category) (ownerCounts, error) {
	dumped, err := a.of.DumpFlows(ctx)
	if err != nil {
		return nil, err
	}
	out := ownerCounts{}
	for _, f := range dumped {
		if o, ok := a.store.OwnerOf(f.Cookie); ok && o.Category == cat {
			c := out[o]
			c.flows++
			c.packets += f.Packets
			out[o] = c
		}
	}
	return out, nil
}

// Services lists the Services this node's proxy knows, with their groups as installed in br-int.
func (a *Agent) Services(ctx context.Context) (*api.ServiceList, error) {
	if ready, why := a.Ready(); !ready {
		return nil, fmt.Errorf("agent not ready: %s", why)
	}
	out := &api.ServiceList{Node: a.cfg.NodeName, Services: []api.ServiceInfo{}}
	if a.proxy == nil {
		return out, nil
	}
	views, err := a.proxy.View()
	if err != nil {
		return nil, err
	}
	groups, err := a.of.DumpGroups(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := a.countByOwner(ctx, flows.Service)
	if err != nil {
		return nil, err
	}
	local := map[string]string{}
	for _, p := range a.pods.List() {
		if p.IP != nil && p.Name != "" {
			local[p.IP.IP.String()] = p.Namespace + "/" + p.Name
		}
	}
	for _, v := range views {
		out.Services = append(out.Services, serviceInfo(v, groups, counts, local))
	}
	return out, nil
}

// serviceInfo turns one proxy view into the API's form; local names the pods of this node by address.
func serviceInfo(v proxy.ServiceView, groups []openflow.Group, counts ownerCounts, local map[string]string) api.ServiceInfo {
	c := counts[proxy.Owner(v.Key)]
	si := api.ServiceInfo{Name: v.Key, Ignored: v.Ignored, Flows: c.flows, Packets: c.packets}
	buckets := map[uint32]int{}
	for _, g := range groups {
		buckets[g.ID] = len(g.Buckets)
	}
	for _, lb := range v.LoadBalancers {
		n, ok := buckets[lb.ID]
		li := api.LoadBalancerInfo{Group: lb.ID, Protocol: string(lb.Protocol), AffinitySeconds: lb.AffinityTimeout,
			InOVS: ok && n == len(lb.Endpoints), Endpoints: []api.EndpointInfo{}}
		for _, e := range lb.Entries {
			s := net.JoinHostPort(e.IP.String(), strconv.Itoa(int(e.Port)))
			if e.IP.Equal(flows.VirtualNodePortIP) {
				s = fmt.Sprintf("nodePort %d", e.Port)
			}
			if e.NeedSNAT {
				s += " (SNAT)"
			}
			li.Entries = append(li.Entries, s)
		}
		for _, ep := range lb.Endpoints {
			li.Endpoints = append(li.Endpoints, api.EndpointInfo{Address: net.JoinHostPort(ep.IP.String(), strconv.Itoa(int(ep.Port))),
				Local: ep.Local, Pod: local[ep.IP.String()]})
		}
		si.LoadBalancers = append(si.LoadBalancers, li)
	}
	for _, r := range v.Reject {
		si.Rejected = append(si.Rejected, fmt.Sprintf("%s %s/%d", r.IP, r.Protocol, r.Port))
	}
	return si
}

// Policies lists the NetworkPolicies of the node's controller: their rules, and the local pods they isolate with
// the packets dropped for them. (Their flows are shared between policies: conjunctions by peer and ports, the
// isolation flows by pod; yardctl flows --policy pod:<ns>/<name> shows a pod's.)
func (a *Agent) Policies(ctx context.Context) (*api.PolicyList, error) {
	if ready, why := a.Ready(); !ready {
		return nil, fmt.Errorf("agent not ready: %s", why)
	}
	out := &api.PolicyList{Node: a.cfg.NodeName, Policies: []api.PolicyInfo{}}
	if a.policies == nil {
		return out, nil
	}
	denied, err := a.policies.DeniedPackets(ctx, a.of, a.store.OwnerOf)
	if err != nil {
		return nil, err
	}
	dropped := map[string]uint64{}
	for _, d := range denied {
		dropped[d.Pod+" "+d.Direction] = d.Packets
	}
	model := a.policies.Model()
	isolates := map[policy.PolicyKey][]api.IsolatedPod{}
	for _, p := range a.pods.List() {
		if p.IP == nil || p.Name == "" {
			continue
		}
		ip, ok := netip.AddrFromSlice(p.IP.IP.To4())
		if !ok {
			continue
		}
		pod := p.Namespace + "/" + p.Name
		for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
			for _, k := range model.Isolators(ip, d) {
				isolates[k] = append(isolates[k], api.IsolatedPod{Pod: pod, Direction: d.String(), Denied: dropped[pod+" "+d.String()]})
			}
		}
	}
	for _, k := range model.PolicyKeys() {
		pi := api.PolicyInfo{Name: k.String(), Isolates: isolates[k], Rules: []api.PolicyRule{}}
		for _, r := range model.Rules(k.Namespace, k.Name) {
			pi.Rules = append(pi.Rules, policyRule(model, r))
		}
		if st, ok := model.Status(k.Namespace, k.Name); ok {
			for _, e := range st.Errors {
				pi.Errors = append(pi.Errors, e.Error())
			}
			pi.Warnings = st.Warnings
		}
		out.Policies = append(out.Policies, pi)
	}
	return out, nil
}

// policyRule describes a rule's peers and ports from the model's groups.
func policyRule(model *policy.Store, r policy.Rule) api.PolicyRule {
	pr := api.PolicyRule{Direction: r.Direction.String(), Index: r.Index, Peers: []string{}, Ports: []string{}}
	if r.AnyPeer {
		pr.Peers = append(pr.Peers, "any")
	}
	for _, id := range r.Peers {
		if g, ok := model.Group(id); ok {
			pr.Peers = append(pr.Peers, fmt.Sprintf("%s (%s)", g.Key, plural(len(g.Members), "address")))
		}
	}
	if r.AnyPort {
		pr.Ports = append(pr.Ports, "any")
	}
	for _, p := range r.Ports {
		pr.Ports = append(pr.Ports, p.String())
	}
	for _, id := range r.NamedPorts {
		if g, ok := model.Group(id); ok {
			pr.Ports = append(pr.Ports, fmt.Sprintf("%s/%s (named, %s)", g.Protocol, g.PortName, plural(len(g.Members), "pod port")))
		}
	}
	return pr
}

// plural is "1 address", "3 addresses".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
