// Package policy computes Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics as pure code: no OVS, no
// API server. A Store is fed Pod, Namespace and NetworkPolicy events and maintains, incrementally:
//
//   - groups: content-addressed address sets shared by all rules with the same definition. A PodGroup holds the
//     IPs of the pods a (namespace, namespaceSelector, podSelector) selection matches, a CIDRGroup the
//     non-overlapping prefixes of an ipBlock with its excepts cut out, a NamedPortGroup the (pod IP, port number)
//     pairs of the pods of a base selection that declare a named container port. Applied-to sets are PodGroups
//     too. Groups are reference counted and disappear with their last rule.
//   - rules: each policy rule normalized to an applied-to group, peer groups (OR), numeric port ranges and named
//     port groups (see Rule for the exact formula). Malformed parts fail closed (the rule is ignored, the policy
//     still isolates) and are reported by UpsertPolicy and Status.
//   - isolation: per pod address and direction, whether some policy of that type selects it.
//
// Semantics follow the upstream conformance suite: policyTypes default to Ingress, plus Egress when the policy
// has egress rules; both selectors in one peer are ANDed, peers and ports of a rule are ORed, rules and policies
// are unioned; ipBlocks match any address (pod or not) while named ports only match pods, resolved for ingress
// against the destination (applied-to) pod and for egress against the destination peer pod; a port without
// protocol is TCP; hostNetwork and finished pods have no addresses here.
//
// # Consuming deltas
//
// Every change is accumulated; TakeDelta returns the net change since the previous call (the first call is the
// full state), so a flows layer can batch any number of events into one bundle, and the size of the bundle is
// proportional to what changed: a pod label change touches only the groups whose selectors changed their verdict
// on that pod, a namespace label change only the namespace-selector groups that flip for that namespace, a policy
// update only the rules whose normalized content changed (unchanged rules keep their RuleID). A typical consumer:
//
//	d := store.TakeDelta()
//	for _, g := range d.Groups { // 1. new members before the rules that use them
//		for _, m := range g.Added {
//			addMemberFlow(g.ID, m) // e.g. ip,nw_src=m.Prefix actions=conjunction(<conjunctions of g.ID>, k/n)
//		}
//	}
//	for _, r := range d.RulesAdded { // 2. conjunctions (agent/networkpolicy shares one per peer group and port set)
//		addRuleFlows(r) // applied-to, peer and port dimensions referencing groups by ID
//	}
//	for _, c := range d.Isolation { // 3. default drop per isolated address and direction
//		setDefaultDrop(c.IP, c.Direction, c.Isolated)
//	}
//	for _, id := range d.RulesRemoved { // 4.
//		deleteRuleFlows(id)
//	}
//	for _, g := range d.Groups { // 5. g.Deleted groups list every member they had in g.Removed
//		for _, m := range g.Removed {
//			deleteMemberFlow(g.ID, m)
//		}
//	}
//
// Groups span the cluster: applied-to groups hold the pods of every node, so a node's flows layer installs only
// the applied-to members that are local (PodAt gives a pod's node) and every peer member. Because groups are shared, the flows for a group's members are written once per group and reference the
// conjunctions of all rules using it, so flows grow with (members of distinct groups) + (rules x ports), not
// with rules x members. Evaluate answers a single connection from the model and is the reference truth for tests
// and `yardctl explain`.
package policy
