// Package snat masquerades pod traffic that leaves the cluster: packets from this node's pods to anything but a pod
// CIDR or a node address leave with the node's address (the outgoing interface's). It owns one nftables table,
// rebuilt atomically with `nft -f` whenever the cluster's pod CIDRs or node addresses change.
package snat

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"
	"sync"
)

// DefaultTable is the nftables table (family ip) Switchyard owns.
const DefaultTable = "switchyard"

// Rules are the masquerade rules of one node.
type Rules struct {
	// LocalPodCIDR is this node's pod CIDR: the sources that are masqueraded.
	LocalPodCIDR *net.IPNet
	// PodCIDRs are every node's pod CIDRs (this node's included): destinations reached without NAT.
	PodCIDRs []*net.IPNet
	// NodeIPs are every node's addresses: pods reach nodes without NAT too.
	NodeIPs []net.IP
	// Gateway is the gateway interface: traffic into the pod network is never masqueraded.
	Gateway string
}

// Render returns the nft script that replaces the table with the rules: creating and deleting the table first
// makes the script work whether the table exists or not, and nft applies the whole script as one transaction.
func Render(table string, r Rules) (string, error) {
	if r.LocalPodCIDR == nil || r.LocalPodCIDR.IP.To4() == nil {
		return "", fmt.Errorf("SNAT: local pod CIDR %v is not an IPv4 subnet", r.LocalPodCIDR)
	}
	cidrs := map[string]bool{}
	for _, c := range mergeCIDRs(append([]*net.IPNet{r.LocalPodCIDR}, r.PodCIDRs...)) {
		cidrs[c.String()] = true
	}
	ips := map[string]bool{}
	for _, ip := range r.NodeIPs {
		if v4 := ip.To4(); v4 != nil {
			ips[v4.String()] = true
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\n", table, table)
	fmt.Fprintf(&b, "table ip %s {\n", table)
	fmt.Fprintf(&b, "\tset pod-cidrs {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { %s }\n\t}\n", strings.Join(sorted(cidrs), ", "))
	fmt.Fprintf(&b, "\tset node-ips {\n\t\ttype ipv4_addr\n")
	if len(ips) > 0 {
		fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(sorted(ips), ", "))
	}
	b.WriteString("\t}\n")
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr %s ip daddr != @pod-cidrs ip daddr != @node-ips oifname != %q masquerade\n", r.LocalPodCIDR, r.Gateway)
	b.WriteString("\t}\n}\n")
	return b.String(), nil
}

// mergeCIDRs returns the IPv4 CIDRs without those inside another one: an nftables interval set refuses
// overlapping elements.
func mergeCIDRs(in []*net.IPNet) []*net.IPNet {
	var v4 []*net.IPNet
	for _, c := range in {
		if c != nil && c.IP.To4() != nil {
			v4 = append(v4, &net.IPNet{IP: c.IP.Mask(c.Mask).To4(), Mask: c.Mask[len(c.Mask)-4:]})
		}
	}
	sort.Slice(v4, func(i, j int) bool {
		a, _ := v4[i].Mask.Size()
		b, _ := v4[j].Mask.Size()
		return a < b
	})
	var out []*net.IPNet
	for _, c := range v4 {
		inside := false
		for _, k := range out {
			if k.Contains(c.IP) {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, c)
		}
	}
	return out
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Masquerade keeps the table in the desired state.
type Masquerade struct {
	Table string // default DefaultTable
	NFT   string // the nft binary; default "nft"

	mu      sync.Mutex
	applied string // the last script applied; a repeat is skipped
}

func (m *Masquerade) table() string {
	if m.Table == "" {
		return DefaultTable
	}
	return m.Table
}

// Apply makes the table hold r's rules. It does nothing if the rules are those it applied last.
func (m *Masquerade) Apply(ctx context.Context, r Rules) error {
	script, err := Render(m.table(), r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if script == m.applied {
		return nil
	}
	if err := m.nft(ctx, script); err != nil {
		return fmt.Errorf("SNAT: replacing nftables table ip %s: %w", m.table(), err)
	}
	m.applied = script
	return nil
}

// Remove deletes the table (if it exists): noSNAT, uninstall.
func (m *Masquerade) Remove(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.table()
	if err := m.nft(ctx, fmt.Sprintf("table ip %s\ndelete table ip %s\n", t, t)); err != nil {
		return fmt.Errorf("SNAT: deleting nftables table ip %s: %w", t, err)
	}
	m.applied = ""
	return nil
}

func (m *Masquerade) nft(ctx context.Context, script string) error {
	bin := m.NFT
	if bin == "" {
		bin = "nft"
	}
	cmd := exec.CommandContext(ctx, bin, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft -f: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}
