package snat

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-net/switchyard/test/nettest"
)

func cidr(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

var testRules = Rules{
	LocalPodCIDR: cidr("10.244.1.0/24"),
	PodCIDRs:     []*net.IPNet{cidr("10.244.2.0/24"), cidr("10.244.1.0/24"), cidr("10.244.2.0/25"), cidr("fd00::/64")},
	NodeIPs:      []net.IP{net.ParseIP("192.168.77.12"), net.ParseIP("192.168.77.11"), net.ParseIP("fd00::1")},
	Gateway:      "switchyard-gw0",
}

func TestRender(t *testing.T) {
	got, err := Render("switchyard", testRules)
	if err != nil {
		t.Fatal(err)
	}
	want := `table ip switchyard
delete table ip switchyard
table ip switchyard {
	set pod-cidrs {
		type ipv4_addr
		flags interval
		elements = { 10.244.1.0/24, 10.244.2.0/24 }
	}
	set node-ips {
		type ipv4_addr
		elements = { 192.168.77.11, 192.168.77.12 }
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.244.1.0/24 ip daddr != @pod-cidrs ip daddr != @node-ips oifname != "switchyard-gw0" masquerade
	}
}
`
	if got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
	if _, err := Render("switchyard", Rules{LocalPodCIDR: cidr("fd00::/64")}); err == nil || !strings.Contains(err.Error(), "local pod CIDR fd00::/64") {
		t.Errorf("IPv6 local pod CIDR: %v", err)
	}
	noNodes, err := Render("t", Rules{LocalPodCIDR: cidr("10.244.1.0/24"), Gateway: "gw"})
	if err != nil || strings.Contains(noNodes, "elements = {  }") {
		t.Errorf("empty node set must have no elements line: %v\n%s", err, noNodes)
	}
}

// nftIn wraps nft so that it runs inside a network namespace.
func nftIn(t *testing.T, ns string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nft")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexec ip netns exec "+ns+" nft \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// The table is created, replaced atomically when the rules change, left alone when they do not, and removed; all
// inside a private namespace.
func TestMasqueradeInNetns(t *testing.T) {
	nettest.RequireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed")
	}
	ns := nettest.NewNetns(t, "snat")
	m := &Masquerade{Table: "sytest", NFT: nftIn(t, ns)}
	ctx := context.Background()
	list := func() string {
		out, _ := nettest.InNetns(ns, "nft", "list", "table", "ip", "sytest")
		return out
	}
	if err := m.Remove(ctx); err != nil { // removing a missing table is fine
		t.Fatal(err)
	}
	if err := m.Apply(ctx, testRules); err != nil {
		t.Fatal(err)
	}
	if got := list(); !strings.Contains(got, "masquerade") || !strings.Contains(got, "10.244.2.0/24") {
		t.Fatalf("table after Apply:\n%s", got)
	}
	more := testRules
	more.PodCIDRs = append([]*net.IPNet{cidr("10.244.3.0/24")}, more.PodCIDRs...)
	if err := m.Apply(ctx, more); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(ctx, more); err != nil { // a repeat is a no-op
		t.Fatal(err)
	}
	if got := list(); !strings.Contains(got, "10.244.3.0/24") || strings.Count(got, "masquerade") != 1 {
		t.Fatalf("table after the update:\n%s", got)
	}
	// A new agent (nothing applied yet in memory) replaces the table in place.
	m2 := &Masquerade{Table: "sytest", NFT: m.NFT}
	if err := m2.Apply(ctx, testRules); err != nil {
		t.Fatal(err)
	}
	if got := list(); strings.Contains(got, "10.244.3.0/24") || strings.Count(got, "masquerade") != 1 {
		t.Fatalf("table after a restart:\n%s", got)
	}
	if err := m2.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "" && !strings.Contains(got, "No such file") {
		t.Fatalf("table after Remove:\n%s", got)
	}
}

func TestNFTErrorNamesTheTable(t *testing.T) {
	m := &Masquerade{Table: "sytest", NFT: "/nonexistent/nft"}
	err := m.Apply(context.Background(), testRules)
	if err == nil || !strings.Contains(err.Error(), "table ip sytest") {
		t.Errorf("error %v does not name the table", err)
	}
}
