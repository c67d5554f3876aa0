package agent

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
	"github.com/switchyard-net/switchyard/policy"
)

// explainPolicy names the NetworkPolicies behind a trace's policy steps from the controller's model: the rule that
// allowed (policy.Store.Evaluate) and, for a drop, the policies that isolate the pod. Without a policy controller
// (standalone) the steps keep what their owners say.
func (a *Agent) explainPolicy(res *api.TraceResult, pkt tracePacket) {
	if a.policies == nil {
		return
	}
	model := a.policies.Model()
	src, ok1 := netip.AddrFromSlice(pkt.Src.To4())
	dst, ok2 := netip.AddrFromSlice(pkt.Dst.To4())
	if !ok1 || !ok2 {
		return
	}
	proto := map[string]policy.Protocol{"tcp": policy.TCP, "udp": policy.UDP}[pkt.Proto]
	verdict := model.Evaluate(src, dst, proto, pkt.DPort)
	for i := range res.Steps {
		s := &res.Steps[i]
		if s.OwnerKind != flows.Policy.String() {
			continue
		}
		dir, decision, pod := policy.Egress, verdict.Egress, src
		if s.Table == flows.IngressRule.ID {
			dir, decision, pod = policy.Ingress, verdict.Ingress, dst
		}
		switch {
		case isPolicyDrop(*s):
			keys := model.Isolators(pod, dir)
			if len(keys) == 0 {
				continue
			}
			names := make([]string, len(keys))
			for j, k := range keys {
				names[j] = k.String()
			}
			s.Says += fmt.Sprintf(" (isolated by %s)", strings.Join(names, ", "))
			if i == len(res.Steps)-1 && res.Verdict.Kind == api.VerdictDropped {
				res.Verdict.Reason = strings.TrimPrefix(s.Says, "dropped: ")
				res.Verdict.Decider = "Policy " + strings.Join(names, ", ")
				res.Verdict.Summary = fmt.Sprintf("dropped in %s: %s", s.TableName, res.Verdict.Reason)
			}
		case decision.Rule != nil && strings.Contains(s.Says, "allow"):
			s.Says = fmt.Sprintf("allowed by policy %s %s rule %d", decision.Rule.Policy, decision.Rule.Direction, decision.Rule.Index)
		}
	}
}
