package netpol

// The cases of shared/netpol-cases.md. Policies are YAML (text/template: {{ip "y/b"}} is a pod's address,
// {{prefix "x/b" 4}} the /4 around it); the expected matrix of every step comes from policy.Evaluate over the
// objects the API then holds, so a case only says what it does.

// step is one change of a case, applied before the matrix is probed.
type step struct {
	apply     []string                     // policies (YAML) created or updated
	delete    []string                     // policies as namespace/name
	nsLabels  map[string]map[string]string // namespace -> labels added
	podLabels map[string]map[string]string // namespace/pod -> labels added
}

// netpolCase is one conformance case.
type netpolCase struct {
	name  string
	steps []step
}

const (
	denyIngressX = `{metadata: {name: deny-ingress, namespace: x}, spec: {podSelector: {}, policyTypes: [Ingress]}}`
	denyAllX     = `{metadata: {name: deny-all, namespace: x}, spec: {podSelector: {}, policyTypes: [Ingress, Egress]}}`
	exceptXB     = `{ipBlock: {cidr: "{{prefix "x/b" 4}}", except: ["{{ip "x/b"}}/32"]}}`
)

func ingressToXA(from string) string {
	return `{metadata: {name: allow, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{from: [` + from + `]}]}}`
}

func egressFromXA(to string) string {
	return `{metadata: {name: egress, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [` + to + `]}]}}`
}

func one(policies ...string) []step { return []step{{apply: policies}} }

func allowPortsFromY(proto string) string {
	return `{metadata: {name: allow-81, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81, protocol: ` + proto + `}]}]}}`
}

var cases = []netpolCase{
	{"01 default-deny-ingress", one(denyIngressX)},
	{"02 default-deny-all", one(denyAllX)},
	{"03 pods within server namespace by PodSelector", one(ingressToXA(`{podSelector: {matchLabels: {pod: b}}}`))},
	{"04 ingress for a target", one(denyIngressX, `{metadata: {name: allow-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{}]}}`)},
	{"05 ingress from all namespaces", one(ingressToXA(`{namespaceSelector: {}}`))},
	{"06 only from a different namespace by NamespaceSelector", one(ingressToXA(`{namespaceSelector: {matchLabels: {ns: "y"}}}`))},
	{"07 PodSelector MatchExpressions", one(ingressToXA(`{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}`))},
	{"08 NamespaceSelector MatchExpressions", one(ingressToXA(`{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: ["y"]}]}}`))},
	{"09 PodSelector OR NamespaceSelector", one(ingressToXA(
		`{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}, {podSelector: {matchLabels: {pod: b}}}`))},
	{"10 PodSelector AND NamespaceSelector", one(ingressToXA(
		`{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchLabels: {pod: b}}}`))},
	{"11 multiple PodSelectors and NamespaceSelectors", one(ingressToXA(
		`{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}`))},
	{"12 any PodSelectors", one(ingressToXA(`{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {pod: c}}}`))},
	{"13 only from a pod in a different namespace", one(ingressToXA(`{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}`))},
	{"14 Ports", one(allowPortsFromY("TCP"))},
	{"15 stacked policies with overlapping podSelectors", []step{{apply: []string{allowPortsFromY("TCP")}},
		{apply: []string{`{metadata: {name: allow-80, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
			ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 80, protocol: TCP}]}]}}`}}}},
	{"16 allow-all", one(`{metadata: {name: all, namespace: x}, spec: {podSelector: {}, ingress: [{}]}}`)},
	{"17 ingress on one named port", one(`{metadata: {name: named, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{ports: [{port: serve-81-tcp}]}]}}`)},
	{"18 ingress from a namespace on one named port", one(`{metadata: {name: named, namespace: x}, spec: {podSelector: {},
		ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: serve-80-tcp}]}]}}`)},
	{"19 egress on one named port", one(`{metadata: {name: named, namespace: x}, spec: {podSelector: {},
		policyTypes: [Egress], egress: [{ports: [{port: serve-80-tcp}]}]}}`)},
	{"20 updated policy", []step{
		{apply: []string{`{metadata: {name: mutate, namespace: x}, spec: {podSelector: {}, ingress: [{}]}}`}},
		{apply: []string{`{metadata: {name: mutate, namespace: x}, spec: {podSelector: {}, ingress: []}}`}}}},
	{"21 ingress from updated namespace", []step{
		{apply: []string{ingressToXA(`{namespaceSelector: {matchLabels: {ns2: updated}}}`)}},
		{nsLabels: map[string]map[string]string{"y": {"ns2": "updated"}}}}},
	{"22 ingress from updated pod", []step{
		{apply: []string{ingressToXA(`{podSelector: {matchLabels: {pod2: updated}}}`)}},
		{podLabels: map[string]map[string]string{"x/b": {"pod2": "updated"}}}}},
	{"23 deny ingress from other namespaces", one(`{metadata: {name: same-ns, namespace: x},
		spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}}`)},
	{"24 deny ingress to updated pod", []step{
		{apply: []string{`{metadata: {name: deny-isolated, namespace: x}, spec: {podSelector: {matchLabels: {target: isolated}}, policyTypes: [Ingress]}}`}},
		{podLabels: map[string]map[string]string{"x/a": {"target": "isolated"}}}}},
	{"25 deny egress from pods by PodSelector", one(`{metadata: {name: deny-egress-a, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}}`)},
	{"26 deny egress from all pods in a namespace", one(`{metadata: {name: deny-egress, namespace: x},
		spec: {podSelector: {}, policyTypes: [Egress]}}`)},
	{"27 ingress and egress together", one(`{metadata: {name: both, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress, Egress],
		ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}], egress: [{ports: [{port: 80}]}]}}`)},
	{"28 client-side egress deny wins", one(
		`{metadata: {name: deny-egress-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}}`,
		`{metadata: {name: allow-all, namespace: "y"}, spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}, {}]}}`)},
	{"29 egress to another namespace by PodSelector and NamespaceSelector", one(
		egressFromXA(`{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}`))},
	{"30 ingress any port on a specific protocol", one(`{metadata: {name: tcp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: TCP}]}]}}`)},
	{"31 ingress allow-all takes precedence", []step{
		{apply: []string{`{metadata: {name: only-80, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 80}]}]}}`}},
		{apply: []string{`{metadata: {name: all, namespace: x}, spec: {podSelector: {}, ingress: [{}]}}`}}}},
	{"32 egress allow-all takes precedence", []step{
		{apply: []string{`{metadata: {name: only-80, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{ports: [{port: 80}]}]}}`}},
		{apply: []string{`{metadata: {name: all, namespace: x}, spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}}`}}}},
	{"33 stop enforcing after delete", []step{{apply: []string{denyAllX}}, {delete: []string{"x/deny-all"}}}},
	{"34 egress to a server in a CIDR block", one(egressFromXA(`{ipBlock: {cidr: "{{ip "y/b"}}/32"}}`))},
	{"35 except clause in egress CIDR", one(egressFromXA(exceptXB))},
	{"36 IP in CIDR and except allowed by a second /32 policy", []step{{apply: []string{egressFromXA(exceptXB)}},
		{apply: []string{`{metadata: {name: egress-xb, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress],
			egress: [{to: [{ipBlock: {cidr: "{{ip "x/b"}}/32"}}]}]}}`}}}},
	{"37 ingress and egress controlled independently", one(
		`{metadata: {name: deny-ingress-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress]}}`,
		egressFromXA(`{podSelector: {matchLabels: {pod: b}}}`))},
	{"38 SCTP is not TCP", one(`{metadata: {name: sctp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: SCTP, port: 81}]}]}}`)},
	{"39 SCTP-only policy isolates for TCP", one(`{metadata: {name: sctp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: SCTP, port: 80}]}]}}`)},
	{"40 UDP-only policy does not allow TCP", one(`{metadata: {name: udp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: UDP, port: 81}]}]}}`)},
	{"41 NamespaceSelector MatchLabels on the default label", one(ingressToXA(`{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}`))},
	{"42 NamespaceSelector MatchExpressions on the default label", one(
		egressFromXA(`{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: ["y"]}]}}`))},
	// UDP re-runs: default-deny-ingress and case 13 are probed on UDP above; "based on Ports" needs the protocol
	// in the policy.
	{"14 Ports UDP", one(allowPortsFromY("UDP"))},
}
