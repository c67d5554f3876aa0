package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/agent/transport"
	"github.com/switchyard-net/switchyard/cni/podnet"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
)

// Cross-node baselines: the cost of OVS alone on each cross-node path, without Switchyard's pipeline. Two node
// namespaces on an underlay bridge, as the 2-node lab lays them out (test/lab/topology), each with a private OVS on
// the same netdev datapath and a single-table bridge whose only flow is actions=NORMAL holding the pod's port:
//
//   - tunnel (geneve, vxlan): the bridge also holds a tunnel port to the other node (fixed remote_ip, key 0), the
//     two pods share one L2 subnet across it. Userspace tunnels get what Switchyard gives them (agent/transport):
//     the node address on a netdev br-phy that owns the NIC, ARP off on the NIC, br-phy's MAC pinned to
//     transport.PhysicalBridgeMAC, the peer seeded in the tunnel neighbour cache;
//   - routed (the noEncap baseline): the bridge's internal port is the pod's gateway in the node's host stack and
//     the nodes route each other's pod subnets over the underlay, the NIC staying the kernel's (Switchyard's
//     noEncap does not take it into OVS).
//
// The pods use Switchyard's veth code at the MTU of the Switchyard path they are compared with, and get the offloads
// Switchyard gives that path: tunnel baselines run without userspace TSO and pods with tx checksum off; the routed
// one runs ovs-vswitchd with userspace TSO and pods with TSO, as start-ovs.sh and the agent do in noEncap mode.

// Keys of the cross-node baselines.
const (
	pathNormalGeneve = "normal-geneve"
	pathNormalVXLAN  = "normal-vxlan"
	pathNormalRouted = "normal-routed"
)

// baselineOf is the OVS NORMAL baseline of each Switchyard path: same datapath, same network shape, same MTU.
var baselineOf = map[string]string{
	pathSameNode:    pathNormal,
	"cross-geneve":  pathNormalGeneve,
	"cross-vxlan":   pathNormalVXLAN,
	"cross-noencap": pathNormalRouted,
}

// interrupted holds cleanups of a section's own that a run stopped by a signal runs when the section does not
// return in time (the run's cleanups do not reach them). Running one twice is harmless: cleanups.run empties the
// list.
var interrupted cleanups

// Addresses of the baselines, all inside namespaces they create (distinct from the labs' and the same-node paths'
// ranges, so a reader of `ip` output never confuses them).
var (
	baseUnderlay = &net.IPNet{IP: net.IPv4(192, 168, 160, 0).To4(), Mask: net.CIDRMask(24, 32)}
	basePods     = net.IPv4(10, 246, 0, 0).To4() // tunnel: 10.246.0.0/24 shared; routed: 10.246.<node>.0/24
)

// baseNode is one node of a cross-node baseline.
type baseNode struct {
	ns  string
	ovs *privateovs.OVS
	ip  net.IP // underlay address
	pod string // pod namespace
	tso bool   // vswitchd runs with userspace TSO and pods keep TSO (the routed baseline)
}

// normalCrossPair builds the baseline of one cross-node mode: tunnel "geneve" or "vxlan", or "" for routed.
func normalCrossPair(ctx context.Context, c *cleanups, key, tunnel string, mtu int) (Path, error) {
	if mtu == 0 {
		return Path{}, fmt.Errorf("%s: the MTU of the Switchyard path is unknown", key)
	}
	octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ul, err := newNetns(c, "u")
	if err != nil {
		return Path{}, err
	}
	if err := sysctls(ul, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return Path{}, err
	}
	if err := runAll([][]string{{"ip", "-n", ul, "link", "add", "br0", "type", "bridge"}, {"ip", "-n", ul, "link", "set", "br0", "up"}}); err != nil {
		return Path{}, err
	}
	dir, err := tempDir(c, "sybnx")
	if err != nil {
		return Path{}, err
	}
	var nodes [2]*baseNode
	for i := range nodes {
		if nodes[i], err = newBaseNode(octx, c, ul, filepath.Join(dir, fmt.Sprint(i+1)), i+1, tunnel == ""); err != nil {
			return Path{}, fmt.Errorf("%s node %d: %w", key, i+1, err)
		}
	}
	var server net.IP
	for i, n := range nodes {
		peer := nodes[1-i]
		var ip *net.IPNet
		var gw net.IP
		if tunnel != "" {
			ip, gw = podAddr(0, i+2), podAddr(0, 1).IP // one L2 subnet; the gateway is never used
			err = n.tunnelNode(octx, tunnel, peer.ip)
		} else {
			ip, gw = podAddr(i+1, 2), podAddr(i+1, 1).IP
			err = n.routedNode(octx, peer.ip, podAddr(2-i, 0), gw, mtu)
		}
		if err != nil {
			return Path{}, fmt.Errorf("%s node %d: %w", key, i+1, err)
		}
		if n.pod, err = n.addPod(octx, c, ip, gw, mtu); err != nil {
			return Path{}, fmt.Errorf("%s node %d: %w", key, i+1, err)
		}
		server = ip.IP
	}
	name := fmt.Sprintf("OVS NORMAL, cross-node, %s (one table, same netdev datapath)", tunnel)
	if tunnel == "" {
		name = "OVS NORMAL, cross-node, routed (noEncap baseline, one table, same netdev datapath)"
	}
	return Path{Key: key, Name: name, ClientNS: nodes[0].pod, ServerNS: nodes[1].pod, ServerIP: server.String(),
		MTU: linkMTU(nodes[0].pod, "eth0")}, nil
}

// podAddr is 10.246.<subnet>.<host>/24.
func podAddr(subnet, host int) *net.IPNet {
	return &net.IPNet{IP: net.IPv4(basePods[0], basePods[1], byte(subnet), byte(host)).To4(), Mask: net.CIDRMask(24, 32)}
}

// newBaseNode creates node i's namespace with the lab's sysctls, its NIC eth0 on the underlay bridge, and a private
// OVS running inside it, with userspace TSO if tso.
func newBaseNode(ctx context.Context, c *cleanups, ul, dir string, i int, tso bool) (*baseNode, error) {
	n := &baseNode{ip: net.IPv4(baseUnderlay.IP[0], baseUnderlay.IP[1], baseUnderlay.IP[2], byte(10+i)).To4(), tso: tso}
	var err error
	if n.ns, err = newNetns(c, "x"); err != nil {
		return nil, err
	}
	if err := sysctls(n.ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.ip_forward=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.all.arp_ignore=1",
		"net.ipv4.conf.all.arp_announce=2"); err != nil {
		return nil, err
	}
	peer := fmt.Sprintf("n%de0", i)
	if err := runAll([][]string{
		{"ip", "-n", n.ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", ul},
		{"ip", "-n", ul, "link", "set", peer, "master", "br0", "up"},
		{"ip", "-n", n.ns, "link", "set", "eth0", "up"},
	}); err != nil {
		return nil, err
	}
	o, err := privateovs.Start(ctx, privateovs.Options{Dir: dir, Netns: n.ns, UserspaceTSO: tso})
	if err != nil {
		return nil, err
	}
	c.add(func() { _ = o.Stop() })
	n.ovs = o
	return n, n.normalBridge(ctx)
}

// Bridge and port names of a baseline node.
const (
	baseBridge   = "br-int"
	basePhy      = "br-phy"
	baseGateway  = "gw0"
	baseTunnel   = "tun0"
	baseHostVeth = "pod0"
)

// normalBridge creates the single-table bridge: netdev, secure, one flow actions=NORMAL.
func (n *baseNode) normalBridge(ctx context.Context) error {
	if err := n.ovs.Vsctl(ctx, "add-br", baseBridge, "--", "set", "bridge", baseBridge, "datapath_type=netdev",
		"fail_mode=secure", "protocols=OpenFlow15"); err != nil {
		return err
	}
	_, err := n.ovs.Ofctl(ctx, "add-flow", baseBridge, "table=0,priority=0,actions=NORMAL")
	return err
}

// tunnelNode gives the node what userspace tunnels need (as agent/transport.PrepareNetdev does) and a tunnel port to
// the peer on the NORMAL bridge.
func (n *baseNode) tunnelNode(ctx context.Context, tunnel string, peer net.IP) error {
	if err := n.ovs.Vsctl(ctx, "add-br", basePhy, "--", "set", "bridge", basePhy, "datapath_type=netdev",
		"other_config:hwaddr="+transport.PhysicalBridgeMAC(n.ip).String(), "--", "add-port", basePhy, "eth0"); err != nil {
		return err
	}
	if err := waitLink(ctx, n.ns, basePhy); err != nil {
		return err
	}
	ones, _ := baseUnderlay.Mask.Size()
	if err := runAll([][]string{
		{"ip", "-n", n.ns, "link", "set", "eth0", "arp", "off"},
		{"ip", "-n", n.ns, "addr", "add", fmt.Sprintf("%s/%d", n.ip, ones), "dev", basePhy},
		{"ip", "-n", n.ns, "link", "set", basePhy, "up"},
	}); err != nil {
		return err
	}
	if err := n.ovs.Vsctl(ctx, "add-port", baseBridge, baseTunnel, "--", "set", "interface", baseTunnel, "type="+tunnel,
		"options:remote_ip="+peer.String()); err != nil {
		return err
	}
	_, err := n.ovs.Appctl(ctx, "tnl/neigh/set", basePhy, peer.String(), transport.PhysicalBridgeMAC(peer).String())
	return err
}

// routedNode keeps the NIC in the kernel with the node address, makes the bridge's internal port the pod's gateway,
// and routes the peer's pod subnet via the peer's address, as Switchyard's noEncap mode does.
func (n *baseNode) routedNode(ctx context.Context, peer net.IP, peerPods *net.IPNet, gw net.IP, mtu int) error {
	ones, _ := baseUnderlay.Mask.Size()
	if err := run("ip", "-n", n.ns, "addr", "add", fmt.Sprintf("%s/%d", n.ip, ones), "dev", "eth0"); err != nil {
		return err
	}
	if err := n.ovs.Vsctl(ctx, "add-port", baseBridge, baseGateway, "--", "set", "interface", baseGateway, "type=internal",
		fmt.Sprintf("mtu_request=%d", mtu)); err != nil {
		return err
	}
	if err := waitLink(ctx, n.ns, baseGateway); err != nil {
		return err
	}
	return runAll([][]string{
		{"ip", "-n", n.ns, "addr", "add", gw.String() + "/24", "dev", baseGateway},
		{"ip", "-n", n.ns, "link", "set", baseGateway, "up"},
		{"ip", "-n", n.ns, "route", "add", peerPods.String(), "via", peer.String(), "dev", "eth0"},
	})
}

// addPod creates a pod namespace attached to the NORMAL bridge with Switchyard's veth code.
func (n *baseNode) addPod(ctx context.Context, c *cleanups, ip *net.IPNet, gw net.IP, mtu int) (string, error) {
	pod, err := newNetns(c, "p")
	if err != nil {
		return "", err
	}
	err = ns.WithNetNSPath("/run/netns/"+n.ns, func(ns.NetNS) error {
		_, err := podnet.Setup("/run/netns/"+pod, podnet.Config{ContainerID: pod, IfName: "eth0", HostIfName: baseHostVeth,
			IP: ip, Gateway: gw, MAC: podnet.PodMAC(ip.IP), MTU: mtu, TxChecksumOff: !n.tso})
		return err
	})
	if err != nil {
		return "", err
	}
	return pod, n.ovs.Vsctl(ctx, "add-port", baseBridge, baseHostVeth)
}

// waitLink waits until OVS has created a device (a bridge's or internal port's tap) in namespace ns.
func waitLink(ctx context.Context, ns, dev string) error {
	for {
		if run("ip", "-n", ns, "link", "show", dev) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("device %s did not appear in %s: %w", dev, ns, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runAll runs commands in order and stops at the first error.
func runAll(cmds [][]string) error {
	for _, cmd := range cmds {
		if err := run(cmd[0], cmd[1:]...); err != nil {
			return err
		}
	}
	return nil
}
