package policy

import "testing"

// The conformance cases of shared/netpol-cases.md, 1-21. Each compares the full 9x9 matrix on ports 80 and 81
// for TCP, UDP and SCTP with the expectation (policies say TCP unless they name a protocol).

const (
	denyIngressX = `{metadata: {name: deny-ingress, namespace: x}, spec: {podSelector: {}, policyTypes: [Ingress]}}`
	denyAllX     = `{metadata: {name: deny-all, namespace: x}, spec: {podSelector: {}, policyTypes: [Ingress, Egress]}}`
)

// onlyTo says: traffic to server key is allowed only when ok; everything else is allowed.
func onlyTo(key string, ok func(c, s mpod, port uint16, proto Protocol) bool) expectFunc {
	return func(c, s mpod, port uint16, proto Protocol) bool { return !is(s, key) || ok(c, s, port, proto) }
}

// onlyFrom says: traffic from client key is allowed only when ok.
func onlyFrom(key string, ok func(c, s mpod, port uint16, proto Protocol) bool) expectFunc {
	return func(c, s mpod, port uint16, proto Protocol) bool { return !is(c, key) || ok(c, s, port, proto) }
}

func ingressToXA(from string) string {
	return `{metadata: {name: allow, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{from: [` +
		from + `]}]}}`
}

var cases1 = []netpolCase{
	{"01 default-deny-ingress", []step{{apply: []string{denyIngressX},
		want: func(c, s mpod, _ uint16, _ Protocol) bool { return s.ns != "x" }}}},
	{"02 default-deny-all", []step{{apply: []string{denyAllX},
		want: func(c, s mpod, _ uint16, _ Protocol) bool { return s.ns != "x" && c.ns != "x" }}}},
	{"03 pods within server namespace by PodSelector", []step{{apply: []string{ingressToXA(`{podSelector: {matchLabels: {pod: b}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return is(c, "x/b") })}}},
	{"04 ingress for a target", []step{{apply: []string{denyIngressX,
		`{metadata: {name: allow-a, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{}]}}`},
		want: func(c, s mpod, _ uint16, _ Protocol) bool { return s.ns != "x" || is(s, "x/a") }}}},
	{"05 ingress from all namespaces", []step{{apply: []string{ingressToXA(`{namespaceSelector: {}}`)}, want: allowAll}}},
	{"06 only from a different namespace by NamespaceSelector", []step{{apply: []string{ingressToXA(`{namespaceSelector: {matchLabels: {ns: "y"}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns == "y" })}}},
	{"07 PodSelector MatchExpressions", []step{{apply: []string{ingressToXA(`{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return is(c, "x/b") })}}},
	{"08 NamespaceSelector MatchExpressions", []step{{apply: []string{ingressToXA(`{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: ["y"]}]}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns == "y" })}}},
	{"09 PodSelector OR NamespaceSelector", []step{{apply: []string{ingressToXA(
		`{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}, {podSelector: {matchLabels: {pod: b}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns != "x" || c.name == "b" })}}},
	{"10 PodSelector AND NamespaceSelector", []step{{apply: []string{ingressToXA(
		`{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchLabels: {pod: b}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns != "x" && c.name == "b" })}}},
	{"11 multiple PodSelectors and NamespaceSelectors", []step{{apply: []string{ingressToXA(
		`{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns != "x" && c.name != "a" })}}},
	{"12 any PodSelectors", []step{{apply: []string{ingressToXA(`{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {pod: c}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns == "x" && c.name != "a" })}}},
	{"13 only from a pod in a different namespace", []step{{apply: []string{ingressToXA(
		`{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}`)},
		want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return is(c, "y/a") })}}},
	{"14 Ports", []step{{apply: []string{`{metadata: {name: allow-81, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81}]}]}}`},
		want: onlyTo("x/a", func(c, _ mpod, port uint16, proto Protocol) bool { return c.ns == "y" && port == 81 && proto == TCP })}}},
	{"15 stacked policies with overlapping podSelectors", []step{
		{apply: []string{`{metadata: {name: allow-81, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
			ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81}]}]}}`},
			want: onlyTo("x/a", func(c, _ mpod, port uint16, proto Protocol) bool { return c.ns == "y" && port == 81 && proto == TCP })},
		{apply: []string{`{metadata: {name: allow-80, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
			ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 80, protocol: TCP}]}]}}`},
			want: onlyTo("x/a", func(c, _ mpod, _ uint16, proto Protocol) bool { return c.ns == "y" && proto == TCP })}}},
	{"16 allow-all", []step{{apply: []string{`{metadata: {name: all, namespace: x}, spec: {podSelector: {}, ingress: [{}]}}`}, want: allowAll}}},
	{"17 ingress on one named port", []step{{apply: []string{`{metadata: {name: named, namespace: x}, spec: {podSelector: {matchLabels: {pod: a}},
		ingress: [{ports: [{port: serve-81-tcp}]}]}}`},
		want: onlyTo("x/a", func(_, _ mpod, port uint16, proto Protocol) bool { return port == 81 && proto == TCP })}}},
	{"18 ingress from a namespace on one named port", []step{{apply: []string{`{metadata: {name: named, namespace: x}, spec: {podSelector: {},
		ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: serve-80-tcp}]}]}}`},
		want: func(c, s mpod, port uint16, proto Protocol) bool {
			return s.ns != "x" || (c.ns == "y" && port == 80 && proto == TCP)
		}}}},
	{"19 egress on one named port", []step{{apply: []string{`{metadata: {name: named, namespace: x}, spec: {podSelector: {},
		policyTypes: [Egress], egress: [{ports: [{port: serve-80-tcp}]}]}}`},
		want: func(c, s mpod, port uint16, proto Protocol) bool { return c.ns != "x" || (port == 80 && proto == TCP) }}}},
	{"20 updated policy", []step{
		{apply: []string{`{metadata: {name: mutate, namespace: x}, spec: {podSelector: {}, ingress: [{}]}}`}, want: allowAll},
		{apply: []string{`{metadata: {name: mutate, namespace: x}, spec: {podSelector: {}, ingress: []}}`},
			want: func(c, s mpod, _ uint16, _ Protocol) bool { return s.ns != "x" }}}},
	{"21 ingress from updated namespace", []step{
		{apply: []string{ingressToXA(`{namespaceSelector: {matchLabels: {ns2: updated}}}`)},
			want: onlyTo("x/a", func(mpod, mpod, uint16, Protocol) bool { return false })},
		{nsLabels: map[string]map[string]string{"y": {"ns2": "updated"}},
			want: onlyTo("x/a", func(c, _ mpod, _ uint16, _ Protocol) bool { return c.ns == "y" })}}},
}

func TestNetpolCases1to21(t *testing.T) { runCases(t, cases1) }
