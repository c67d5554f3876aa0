package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// CheckHostRoutes refuses a plan whose ranges overlap a route of the host's own namespace (other than the default
// route): the lab must never shadow or leak into the host's networks.
func CheckHostRoutes(p *Plan) error {
	out, err := exec.Command("ip", "-j", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return fmt.Errorf("reading host routes: %w", err)
	}
	var routes []struct {
		Dst string `json:"dst"`
		Dev string `json:"dev"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return fmt.Errorf("parsing host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == "" || r.Dst == "default" || r.Dev == "lo" {
			continue
		}
		dst := r.Dst
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			continue
		}
		for _, lab := range p.Ranges() {
			if overlap(n, lab) {
				return fmt.Errorf("lab range %s overlaps the host route %s (dev %s): choose other ranges with the CIDR flags", lab, r.Dst, r.Dev)
			}
		}
	}
	return nil
}

// Create builds the underlay and the namespaces of the control plane, the external host and every node. Each node
// namespace gets eth0 on the underlay with its InternalIP and the sysctls the userspace datapath needs.
func Create(p *Plan) error {
	ul := p.UnderlayNS()
	r := &runner{}
	r.netns(ul)
	r.ip(ul, "link", "add", "br0", "type", "bridge")
	r.ip(ul, "link", "set", "br0", "up")
	if p.Topology == TwoSubnets {
		r.ip(ul, "link", "add", "br1", "type", "bridge")
		r.ip(ul, "link", "set", "br1", "up")
		rt := p.RouterNS()
		r.netns(rt)
		r.sysctl(rt, "net.ipv4.ip_forward=1")
		r.attach(p, rt, "eth0", "rt0", "br0", CIDRString(p.RouterIP(p.UnderlayA), p.UnderlayA))
		r.attach(p, rt, "eth1", "rt1", "br1", CIDRString(p.RouterIP(p.UnderlayB), p.UnderlayB))
		r.txChecksumOff(rt, "eth0")
		r.txChecksumOff(rt, "eth1")
	}
	for _, h := range []struct {
		ns, peer string
		ip       net.IP
	}{
		{p.ControlPlaneNS(), "cp0", p.ControlPlaneIP()}, {p.ExternalNS(), "ext0", p.ExternalIP()}} {
		r.netns(h.ns)
		r.attach(p, h.ns, "eth0", h.peer, "br0", CIDRString(h.ip, p.UnderlayA))
		r.txChecksumOff(h.ns, "eth0")
		if p.Topology == TwoSubnets {
			r.ip(h.ns, "route", "add", p.UnderlayB.String(), "via", p.RouterIP(p.UnderlayA).String())
		}
	}
	for i := 1; i <= p.Nodes; i++ {
		ns, sub := p.NodeNS(i), p.NodeSubnet(i)
		r.netns(ns)
		for _, s := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
			"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"} {
			r.sysctl(ns, s)
		}
		bridge := "br0"
		if sub == p.UnderlayB {
			bridge = "br1"
		}
		r.attach(p, ns, "eth0", fmt.Sprintf("n%de0", i), bridge, CIDRString(p.NodeIP(i), sub))
		if p.Topology == TwoSubnets {
			other := p.UnderlayB
			if sub == p.UnderlayB {
				other = p.UnderlayA
			}
			r.ip(ns, "route", "add", other.String(), "via", p.RouterIP(sub).String())
		}
	}
	return r.err
}

// Destroy deletes every namespace of the plan that exists (which removes their links too).
func Destroy(p *Plan) error {
	var errs []error
	for _, ns := range Namespaces(p) {
		if exec.Command("ip", "netns", "pids", ns).Run() != nil {
			continue // does not exist
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", ns, err, out))
		}
	}
	return errors.Join(errs...)
}

// Namespaces lists the plan's namespaces (not the pods').
func Namespaces(p *Plan) []string {
	ns := []string{p.ControlPlaneNS(), p.ExternalNS(), p.RouterNS(), p.UnderlayNS()}
	for i := 1; i <= p.Nodes; i++ {
		ns = append(ns, p.NodeNS(i))
	}
	return ns
}

// runner runs ip commands and keeps the first error.
type runner struct{ err error }

func (r *runner) run(args ...string) {
	if r.err != nil {
		return
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		r.err = fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

func (r *runner) ip(ns string, args ...string) { r.run(append([]string{"ip", "-n", ns}, args...)...) }

func (r *runner) sysctl(ns, kv string) { r.run("ip", "netns", "exec", ns, "sysctl", "-qw", kv) }

// netns creates a namespace with loopback up and IPv6 off (keeps ND/MLD noise out of OVS).
func (r *runner) netns(ns string) {
	r.run("ip", "netns", "add", ns)
	r.ip(ns, "link", "set", "lo", "up")
	r.sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1")
	r.sysctl(ns, "net.ipv6.conf.default.disable_ipv6=1")
}

// txChecksumOff makes a non-node host send complete checksums, as a real NIC does. With a veth's default (tx
// offload on) TCP and UDP arrive with partial checksums, and a node whose NIC is read by OVS's userspace datapath
// (its address on br-phy) drops them while ping still works.
func (r *runner) txChecksumOff(ns, ifname string) {
	r.run("ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off")
}

// attach plugs namespace ns into an underlay bridge with a veth (ifname inside ns, peer on the bridge).
func (r *runner) attach(p *Plan, ns, ifname, peer, bridge, cidr string) {
	r.ip(ns, "link", "add", ifname, "type", "veth", "peer", "name", peer, "netns", p.UnderlayNS())
	r.ip(p.UnderlayNS(), "link", "set", peer, "master", bridge, "up")
	r.ip(ns, "addr", "add", cidr, "dev", ifname)
	r.ip(ns, "link", "set", ifname, "up")
}
