package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/flows"
)

var testHostState = hostState(map[string]HostPlan{
	"a/web":  {NodePorts: []NodePort{{Protocol: flows.TCP, Port: 30080}, {Protocol: flows.UDP, Port: 30053}}},
	"a/none": {Reject: []HostEntry{{IP: "10.96.0.21", Protocol: flows.TCP, Port: 80}, {IP: "10.96.0.21", Protocol: flows.SCTP, Port: 90}}, RejectNodePorts: []NodePort{{Protocol: flows.TCP, Port: 30081}}},
})

func TestRenderHostRules(t *testing.T) {
	script, err := RenderHostRules(DefaultTable, "switchyard-gw0", testHostState)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"delete table ip switchyard-services",
		"elements = { 10.96.0.21 . sctp . 90, 10.96.0.21 . tcp . 80 }",
		"elements = { tcp . 30081 }",
		"elements = { tcp . 30080, udp . 30053 }",
		"dnat ip to 169.254.0.252",
		"meta l4proto tcp reject with tcp reset",
		`ip saddr 169.254.0.253 oifname != "switchyard-gw0" masquerade`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("host rules lack %q:\n%s", want, script)
		}
	}
	if _, err := RenderHostRules(DefaultTable, "bad name", testHostState); err == nil {
		t.Error("a bad gateway name was accepted")
	}
}

// nft accepts the rules, empty and full, in a throwaway network namespace.
func TestHostRulesApplyInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed")
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	ns := "syproxy-" + hex.EncodeToString(suffix)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	wrapper := t.TempDir() + "/nft"
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec ip netns exec "+ns+" nft \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := &NFT{Gateway: "switchyard-gw0", Binary: wrapper}
	for _, s := range []HostState{{}, testHostState, {}} {
		if err := n.Apply(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "ip", DefaultTable).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "set nodeports") {
		t.Errorf("table after apply: %v\n%s", err, out)
	}
}

func TestHostStateMergesExternalIPs(t *testing.T) {
	s := hostState(map[string]HostPlan{
		"a/x": {ExternalIPs: []string{"192.0.2.20", "192.0.2.10"}},
		"a/y": {ExternalIPs: []string{"192.0.2.10"}},
	})
	if got := strings.Join(s.ExternalIPs, " "); got != "192.0.2.10 192.0.2.20" {
		t.Errorf("merged external IPs %q, want sorted and unique", got)
	}
}

// ExternalRoutes adds a route per external address into the gateway and removes those that go, in
// a throwaway network namespace with a veth as the gateway.
func TestExternalRoutesInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "syroutes-" + hex.EncodeToString(suffix)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	// The route to the virtual next hop is the agent's (serviceRoutes).
	for _, args := range [][]string{{"link", "add", "gw0", "type", "veth", "peer", "name", "gw0p"}, {"link", "set", "gw0", "up"},
		{"link", "set", "gw0p", "up"}, {"link", "set", "lo", "up"}, {"route", "add", "169.254.0.253", "dev", "gw0"}} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	routes := func() string {
		out, _ := exec.Command("ip", "-n", name, "route", "show", "proto", "95").CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	r := &ExternalRoutes{Gateway: "gw0"}
	apply := func(ips ...string) {
		t.Helper()
		if err := ns.WithNetNSPath("/run/netns/"+name, func(ns.NetNS) error {
			return r.Apply(t.Context(), HostState{ExternalIPs: ips})
		}); err != nil {
			t.Fatal(err)
		}
	}
	apply("192.0.2.10", "198.51.100.7")
	if got := routes(); !strings.Contains(got, "192.0.2.10 via 169.254.0.253 dev gw0 onlink") || !strings.Contains(got, "198.51.100.7 via") {
		t.Errorf("routes after adding two addresses:\n%s", got)
	}
	apply("198.51.100.7")
	if got := routes(); strings.Contains(got, "192.0.2.10") || !strings.Contains(got, "198.51.100.7") {
		t.Errorf("routes after removing one address:\n%s", got)
	}
	apply()
	if got := routes(); got != "" {
		t.Errorf("routes left after removing every address:\n%s", got)
	}
}
