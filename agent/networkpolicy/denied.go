package networkpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/policy"
)

// Denied is the number of packets the default-drop flow of one isolated local pod dropped in one direction,
// attributed to one of the policies that isolate the pod (a pod isolated by two policies appears under both).
type Denied struct {
	Policy    string // namespace/name; empty if no policy isolates the pod any more
	Pod       string // namespace/name
	Direction string // "ingress" or "egress"
	Packets   uint64
}

// FlowReader dumps flows with their counters (the ovs/openflow client).
type FlowReader interface {
	DumpFlowsMatching(ctx context.Context, filter string) ([]openflow.Flow, error)
}

// DeniedPackets reads the counters of the default-drop flows: per isolated local pod and direction, attributed
// to the policies isolating it.
func (c *Controller) DeniedPackets(ctx context.Context, r FlowReader, ownerOf func(cookie uint64) (flows.Owner, bool)) ([]Denied, error) {
	var out []Denied
	for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
		table := direction(d).Table()
		dumped, err := r.DumpFlowsMatching(ctx, fmt.Sprintf("table=%d", table.ID))
		if err != nil {
			return nil, err
		}
		for _, f := range dumped {
			if f.Priority != flows.PolicyDropPriority {
				continue
			}
			owner, ok := ownerOf(f.Cookie)
			if !ok {
				continue
			}
			pod, ok := PodOfOwner(owner)
			if !ok {
				continue
			}
			isolators := c.isolators(pod, d)
			if len(isolators) == 0 {
				out = append(out, Denied{Pod: pod, Direction: d.String(), Packets: f.Packets})
			}
			for _, k := range isolators {
				out = append(out, Denied{Policy: k.String(), Pod: pod, Direction: d.String(), Packets: f.Packets})
			}
		}
	}
	return out, nil
}

// isolators are the policies that isolate a pod (by its status address) in direction d.
func (c *Controller) isolators(podKey string, d policy.Direction) []policy.PolicyKey {
	ip, ok := c.podIP(podKey)
	if !ok {
		return nil
	}
	return c.model.Isolators(ip, d)
}

// podIP is a pod's status address.
func (c *Controller) podIP(podKey string) (netip.Addr, bool) {
	ns, name := splitKey(podKey)
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(pod.Status.PodIP)
	return ip, err == nil
}

func splitKey(key string) (string, string) {
	ns, name, _ := strings.Cut(key, "/")
	return ns, name
}
