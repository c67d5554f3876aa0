package policy

import "testing"

// The conformance cases of shared/netpol-cases.md, 22-42, and the UDP/SCTP variants.

func egressFromXA(to string) string {
	return `{metadata: {name: egress, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress],
		egress: [{to: [` + to + `]}]}}`
}

const exceptXB = `{ipBlock: {cidr: 10.0.1.2/4, except: [10.0.1.2/32]}}` // the /4 of x/b's address, minus x/b

func none(mpod, mpod, uint16, Protocol) bool { return false }

var cases2 = []netpolCase{
	{"22 ingress from updated pod", []step{
		{apply: []string{ingressToXA(`{podSelector: {matchLabels: {pod2: updated}}}`)}, want: onlyTo("x/a", none)},
		{podLabels: map[string]map[string]string{"x/b": {"pod2": "updated"}},
			want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return is(c, "x/b") })}}},
	{"23 deny ingress from other namespaces", []step{{apply: []string{`{metadata: {name: same-ns, namespace: x},
		spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}}`},
		want: func(c, s mpod, _ uint16, _ Protocol) bool { return s.ns != "x" || c.ns == "x" }}}},
	{"24 deny ingress to updated pod", []step{
		{apply: []string{`{metadata: {name: deny-isolated, namespace: x}, spec: {podSelector: {matchLabels: {target: isolated}}, policyTypes: [Ingress]}}`},
			want: allowAll},
		{podLabels: map[string]map[string]string{"x/a": {"target": "isolated"}}, want: onlyTo("x/a", none)}}},
	{"25 deny egress from pods by PodSelector", []step{{apply: []string{`{metadata: {name: deny-egress-a, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}}`}, want: onlyFrom("x/a", none)}}},
	{"26 deny egress from all pods in a namespace", []step{{apply: []string{`{metadata: {name: deny-egress, namespace: x},
		spec: {podSelector: {}, policyTypes: [Egress]}}`},
		want: func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns != "x" }}}},
	{"27 ingress and egress together", []step{{apply: []string{`{metadata: {name: both, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress, Egress],
		ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}], egress: [{ports: [{port: 80}]}]}}`},
		want: func(c, s mpod, port uint16, proto Protocol) bool {
			return (!is(s, "x/a") || is(c, "x/b")) && (!is(c, "x/a") || (port == 80 && proto == TCP))
		}}}},
	{"28 client-side egress deny wins", []step{{apply: []string{
		`{metadata: {name: deny-egress-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}}`,
		`{metadata: {name: allow-all, namespace: "y"}, spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}, {}]}}`},
		want: onlyFrom("x/a", none)}}},
	{"29 egress to another namespace by PodSelector and NamespaceSelector", []step{{apply: []string{
		egressFromXA(`{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}`)},
		want: onlyFrom("x/a", func(_, s mpod, _ uint16, _ Protocol) bool { return is(s, "y/a") })}}},
	{"30 ingress any port on a specific protocol", []step{{apply: []string{`{metadata: {name: tcp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: TCP}]}]}}`},
		want: onlyTo("x/a", func(_, _ mpod, _ uint16, proto Protocol) bool { return proto == TCP })}}},
	{"31 ingress allow-all takes precedence", []step{
		{apply: []string{`{metadata: {name: only-80, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 80}]}]}}`},
			want: onlyTo("x/a", func(_, _ mpod, port uint16, proto Protocol) bool { return port == 80 && proto == TCP })},
		{apply: []string{`{metadata: {name: all, namespace: x}, spec: {podSelector: {}, ingress: [{}]}}`}, want: allowAll}}},
	{"32 egress allow-all takes precedence", []step{
		{apply: []string{`{metadata: {name: only-80, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{ports: [{port: 80}]}]}}`},
			want: onlyFrom("x/a", func(_, _ mpod, port uint16, proto Protocol) bool { return port == 80 && proto == TCP })},
		{apply: []string{`{metadata: {name: all, namespace: x}, spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}}`}, want: allowAll}}},
	{"33 stop enforcing after delete", []step{
		{apply: []string{denyAllX}, want: func(c, s mpod, _ uint16, _ Protocol) bool { return s.ns != "x" && c.ns != "x" }},
		{delete: []string{"x/deny-all"}, want: allowAll}}},
	{"34 egress to a server in a CIDR block", []step{{apply: []string{egressFromXA(`{ipBlock: {cidr: 10.0.2.2/32}}`)},
		want: onlyFrom("x/a", func(_, s mpod, _ uint16, _ Protocol) bool { return is(s, "y/b") })}}},
	{"35 except clause in egress CIDR", []step{{apply: []string{egressFromXA(exceptXB)},
		want: onlyFrom("x/a", func(_, s mpod, _ uint16, _ Protocol) bool { return !is(s, "x/b") })}}},
	{"36 IP in CIDR and except allowed by a second /32 policy", []step{
		{apply: []string{egressFromXA(exceptXB)}, want: onlyFrom("x/a", func(_, s mpod, _ uint16, _ Protocol) bool { return !is(s, "x/b") })},
		{apply: []string{`{metadata: {name: egress-xb, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress],
			egress: [{to: [{ipBlock: {cidr: 10.0.1.2/32}}]}]}}`}, want: allowAll}}},
	{"37 ingress and egress controlled independently", []step{{apply: []string{
		`{metadata: {name: deny-ingress-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress]}}`,
		egressFromXA(`{podSelector: {matchLabels: {pod: b}}}`)},
		want: func(c, s mpod, _ uint16, _ Protocol) bool { return !is(s, "x/a") && (!is(c, "x/a") || is(s, "x/b")) }}}},
	{"38 SCTP is not TCP", []step{{apply: []string{`{metadata: {name: sctp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: SCTP, port: 81}]}]}}`},
		want: onlyTo("x/a", func(_, _ mpod, port uint16, proto Protocol) bool { return port == 81 && proto == SCTP })}}},
	{"39 SCTP-only policy isolates for TCP", []step{{apply: []string{`{metadata: {name: sctp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: SCTP, port: 80}]}]}}`},
		want: onlyTo("x/a", func(_, _ mpod, port uint16, proto Protocol) bool { return port == 80 && proto == SCTP })}}},
	{"40 UDP-only policy does not allow TCP", []step{{apply: []string{`{metadata: {name: udp, namespace: x},
		spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: UDP, port: 81}]}]}}`},
		want: onlyTo("x/a", func(_, _ mpod, port uint16, proto Protocol) bool { return port == 81 && proto == UDP })}}},
	{"41 NamespaceSelector MatchLabels on the default label", []step{{apply: []string{
		ingressToXA(`{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns == "y" })}}},
	{"42 NamespaceSelector MatchExpressions on the default label", []step{{apply: []string{
		egressFromXA(`{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: ["y"]}]}}`)},
		want: onlyFrom("x/a", func(_, s mpod, _ uint16, _ Protocol) bool { return s.ns != "y" })}}},
	// UDP and SCTP re-runs: default-deny-ingress (case 01) and case 13 are judged on all protocols above; the
	// port-based case needs the protocol in the policy.
	{"14 Ports UDP", []step{{apply: []string{`{metadata: {name: allow-81, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81, protocol: UDP}]}]}}`},
		want: onlyTo("x/a", func(c, _ mpod, port uint16, proto Protocol) bool { return c.ns == "y" && port == 81 && proto == UDP })}}},
	{"14 Ports SCTP", []step{{apply: []string{`{metadata: {name: allow-81, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81, protocol: SCTP}]}]}}`},
		want: onlyTo("x/a", func(c, _ mpod, port uint16, proto Protocol) bool { return c.ns == "y" && port == 81 && proto == SCTP })}}},
}

func TestNetpolCases22to42(t *testing.T) { runCases(t, cases2) }
