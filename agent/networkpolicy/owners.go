// Package networkpolicy turns the NetworkPolicy model of package policy into the flows of the EgressRule and
// IngressRule tables: informers on NetworkPolicies, Pods and Namespaces feed a policy.Store, and every batch of
// changes (policy.Store.TakeDelta) becomes one bundle that rewrites only the owners it touches.
//
// # Owners
//
// The flows of one conjunctive clause are shared by every rule that uses the same match, so they cannot belong to
// one policy. The controller splits the policy flows into owners (category flows.Policy) by what they match:
//
//   - "conj:<id>": the conj_id flow of one conjunction, shared by the rules with the same peer and ports
//     (conjunctions.go);
//   - "pod:<namespace>/<name>": a local pod's applied-to clauses (in_port for egress, TargetOFPort for ingress),
//     its allow-all flows and its default-drop flows, whose counters are the pod's denied packets;
//   - "addr:<prefix>": the peer clauses of one address (nw_dst for egress, nw_src for ingress) and the named-port
//     clauses of that address, shared by every group that has it as a member;
//   - "ports": the port clauses (protocol and destination port ranges) of every rule.
//
// Each owner's flows are computed from the controller's indexes, so a change marks owners dirty and recomputes
// only those; all dirty owners go to the switch in one bundle (flows.Store.Apply).
package networkpolicy

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/flows"
)

// Owner key prefixes (a namespace cannot contain ':', so they never collide with a policy's namespace/name).
const (
	podPrefix  = "pod:"
	addrPrefix = "addr:"
	conjPrefix = "conj:"
	portsKey   = "ports"
)

func conjOwner(id uint32) flows.Owner {
	return flows.Owner{Category: flows.Policy, Key: conjPrefix + strconv.FormatUint(uint64(id), 10)}
}

func podOwner(podKey string) flows.Owner {
	return flows.Owner{Category: flows.Policy, Key: podPrefix + podKey}
}

func addrOwner(p netip.Prefix) flows.Owner {
	return flows.Owner{Category: flows.Policy, Key: addrPrefix + p.String()}
}

var portsOwner = flows.Owner{Category: flows.Policy, Key: portsKey}

// PodOfOwner returns the pod (namespace/name) whose isolation flows an owner holds, if it is a pod owner.
func PodOfOwner(o flows.Owner) (string, bool) {
	if o.Category != flows.Policy || !strings.HasPrefix(o.Key, podPrefix) {
		return "", false
	}
	return strings.TrimPrefix(o.Key, podPrefix), true
}
