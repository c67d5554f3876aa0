package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

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
