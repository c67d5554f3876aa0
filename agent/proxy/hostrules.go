package proxy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"

	"github.com/switchyard-net/switchyard/flows"
)

// DefaultTable is the nftables table (family ip) of the proxy's host rules.
const DefaultTable = "switchyard-services"

// HostState is the union of every Service's HostPlan.
type HostState struct {
	Reject          []HostEntry
	RejectNodePorts []NodePort
	NodePorts       []NodePort
}

// hostState merges plans, sorted and without duplicates.
func hostState(plans map[string]HostPlan) HostState {
	var s HostState
	reject, rejectNP, np := map[HostEntry]bool{}, map[NodePort]bool{}, map[NodePort]bool{}
	for _, p := range plans {
		for _, e := range p.Reject {
			reject[e] = true
		}
		for _, n := range p.RejectNodePorts {
			rejectNP[n] = true
		}
		for _, n := range p.NodePorts {
			np[n] = true
		}
	}
	for e := range reject {
		s.Reject = append(s.Reject, e)
	}
	for n := range rejectNP {
		s.RejectNodePorts = append(s.RejectNodePorts, n)
	}
	for n := range np {
		if !rejectNP[n] {
			s.NodePorts = append(s.NodePorts, n)
		}
	}
	sort.Slice(s.Reject, func(i, j int) bool { return s.Reject[i].text() < s.Reject[j].text() })
	sortNodePorts(s.RejectNodePorts)
	sortNodePorts(s.NodePorts)
	return s
}

func sortNodePorts(n []NodePort) {
	sort.Slice(n, func(i, j int) bool {
		if n[i].Protocol != n[j].Protocol {
			return n[i].Protocol < n[j].Protocol
		}
		return n[i].Port < n[j].Port
	})
}

func (e HostEntry) text() string { return fmt.Sprintf("%s . %s . %d", e.IP, e.Protocol, e.Port) }
func (n NodePort) text() string  { return fmt.Sprintf("%s . %d", n.Protocol, n.Port) }

// RenderHostRules returns the nft script that replaces the proxy's table with s:
//
//   - node ports with endpoints are DNATed to flows.VirtualNodePortIP (port kept), which the host
//     routes into the gateway (prerouting for other hosts, output for the node itself);
//   - Service addresses and node ports without any endpoint are refused at once: TCP with a
//     reset, anything else with ICMP port unreachable (forward: from pods through the gateway;
//     output: the node's own connections; input: node ports);
//   - connections SNATed to flows.VirtualServiceIP that leave the node are masqueraded.
func RenderHostRules(table, gateway string, s HostState) (string, error) {
	if !ifNameOK(gateway) {
		return "", fmt.Errorf("host rules: gateway interface name %q is not valid", gateway)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\ntable ip %s {\n", table, table, table)
	set := func(name, typ string, elems []string) {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", name, typ)
		if len(elems) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
		}
		b.WriteString("\t}\n")
	}
	var reject, rejectNP, np []string
	for _, e := range s.Reject {
		reject = append(reject, e.text())
	}
	for _, n := range s.RejectNodePorts {
		rejectNP = append(rejectNP, n.text())
	}
	for _, n := range s.NodePorts {
		np = append(np, n.text())
	}
	set("no-endpoints", "ipv4_addr . inet_proto . inet_service", reject)
	set("no-endpoint-nodeports", "inet_proto . inet_service", rejectNP)
	set("nodeports", "inet_proto . inet_service", np)
	vnp, vsvc := flows.VirtualNodePortIP, flows.VirtualServiceIP
	fmt.Fprintf(&b, `	chain reject-service {
		meta l4proto tcp reject with tcp reset
		reject
	}
	chain nodeport-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local meta l4proto . th dport @nodeports dnat ip to %s
	}
	chain nodeport-output {
		type nat hook output priority -100; policy accept;
		ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport @nodeports dnat ip to %s
	}
	chain filter-input {
		type filter hook input priority filter; policy accept;
		fib daddr type local meta l4proto . th dport @no-endpoint-nodeports jump reject-service
	}
	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ip daddr . meta l4proto . th dport @no-endpoints jump reject-service
	}
	chain filter-output {
		type filter hook output priority filter; policy accept;
		ip daddr . meta l4proto . th dport @no-endpoints jump reject-service
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %s oifname != %q masquerade
	}
}
`, vnp, vnp, vsvc, gateway)
	return b.String(), nil
}

func ifNameOK(name string) bool {
	if name == "" || len(name) > 15 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// NFT applies host rules with `nft -f -`, one transaction per Apply.
type NFT struct {
	Table   string // DefaultTable if empty
	Gateway string // the gateway interface
	Binary  string // "nft" if empty
}

// Apply replaces the proxy's nftables table with s.
func (n *NFT) Apply(ctx context.Context, s HostState) error {
	table, bin := n.Table, n.Binary
	if table == "" {
		table = DefaultTable
	}
	if bin == "" {
		bin = "nft"
	}
	script, err := RenderHostRules(table, n.Gateway, s)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("applying the Service host rules (nft table %s): %w: %s", table, err, strings.TrimSpace(out.String()))
	}
	return nil
}
