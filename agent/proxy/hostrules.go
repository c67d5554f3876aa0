package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/switchyard-net/switchyard/flows"
)

// DefaultTable is the nftables table (family ip) of the proxy's host rules.
const DefaultTable = "switchyard-services"

// HostState is the union of every Service's HostPlan.
type HostState struct {
	Reject          []HostEntry
	RejectNodePorts []NodePort
	NodePorts       []NodePort
	ExternalIPs     []string
}

// hostState merges plans, sorted and without duplicates.
func hostState(plans map[string]HostPlan) HostState {
	var s HostState
	reject, rejectNP, np, ext := map[HostEntry]bool{}, map[NodePort]bool{}, map[NodePort]bool{}, map[string]bool{}
	for _, p := range plans {
		for _, ip := range p.ExternalIPs {
			ext[ip] = true
		}
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
	for ip := range ext {
		s.ExternalIPs = append(s.ExternalIPs, ip)
	}
	sort.Strings(s.ExternalIPs)
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

// Host is the production HostRules: the nftables table and the routes of the external addresses.
type Host struct {
	NFT    *NFT
	Routes *ExternalRoutes
}

// Apply applies both; a failure of one does not keep the other from being applied.
func (h *Host) Apply(ctx context.Context, s HostState) error {
	return errors.Join(h.NFT.Apply(ctx, s), h.Routes.Apply(ctx, s))
}

// ExternalRouteProtocol marks the host routes of external addresses (`proto 95` in `ip route`); the
// node routes' protocol (94) is pruned by their own controller.
const ExternalRouteProtocol = 95

// ExternalRoutes keeps one host route per external address (externalIPs, load balancer ingress
// IPs) into the gateway, through flows.VirtualServiceIP as the Service CIDR's route does, so that
// traffic from other hosts to these addresses reaches OVS.
type ExternalRoutes struct {
	Gateway string // the gateway interface
}

// Apply adds the missing routes and deletes those of addresses no Service has any more.
func (r *ExternalRoutes) Apply(_ context.Context, s HostState) error {
	gw, err := netlink.LinkByName(r.Gateway)
	if err != nil {
		return fmt.Errorf("external address routes: gateway %s: %w", r.Gateway, err)
	}
	existing, err := netlink.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Protocol: ExternalRouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("external address routes: listing: %w", err)
	}
	want := map[string]bool{}
	var errs []error
	for _, text := range s.ExternalIPs {
		ip := net.ParseIP(text).To4()
		if ip == nil {
			continue
		}
		want[ip.String()] = true
		route := &netlink.Route{LinkIndex: gw.Attrs().Index, Dst: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)},
			Gw: flows.VirtualServiceIP, Flags: int(netlink.FLAG_ONLINK), Protocol: ExternalRouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("external address route %s via %s dev %s: %w", ip, flows.VirtualServiceIP, r.Gateway, err))
		}
	}
	for _, rt := range existing {
		if rt.Dst == nil || want[rt.Dst.IP.String()] {
			continue
		}
		if ones, _ := rt.Dst.Mask.Size(); ones != 32 {
			continue
		}
		if err := netlink.RouteDel(&rt); err != nil {
			errs = append(errs, fmt.Errorf("deleting external address route %s: %w", rt.Dst, err))
		}
	}
	return errors.Join(errs...)
}
