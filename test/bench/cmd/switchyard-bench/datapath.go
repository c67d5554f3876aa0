package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/cni/podnet"
	"github.com/switchyard-net/switchyard/ovs/privateovs"
)

// Same-machine paths of the datapath benchmark, in report order.
const (
	pathVethTxOn  = "veth"
	pathVethTxOff = "veth-txoff"
	pathNormal    = "ovs-normal"
	pathSameNode  = "switchyard-same-node"
)

// benchDatapath measures the same-node paths: a Switchyard node with two pods, a single-table OVS NORMAL bridge on
// the same (netdev) datapath with two pods, and a plain veth pair with and without tx offloads. Paths are
// measured in turn within each repetition, so slow drifts of the machine spread over all of them.
func benchDatapath(ctx context.Context, bins *Binaries, sz Sizes, reps int, logf func(string, ...any)) ([]*PathResult, error) {
	var c cleanups
	defer c.run()
	sw, err := switchyardPair(ctx, &c, bins)
	if err != nil {
		return nil, fmt.Errorf("switchyard same-node pods: %w", err)
	}
	mtu := sw.MTU
	normal, err := normalBridgePair(ctx, &c, mtu)
	if err != nil {
		return nil, fmt.Errorf("OVS NORMAL bridge: %w", err)
	}
	vethOn, err := vethPair(&c, pathVethTxOn, "veth pair, default offloads (the physical limit)", mtu, true)
	if err != nil {
		return nil, err
	}
	vethOff, err := vethPair(&c, pathVethTxOff, "veth pair, tx off (the limit for OVS pods)", mtu, false)
	if err != nil {
		return nil, err
	}
	paths := []Path{vethOn, vethOff, normal, sw}
	results := make([]*PathResult, len(paths))
	for i, p := range paths {
		results[i] = &PathResult{Path: p}
	}
	for rep := 0; rep < reps; rep++ {
		for i, p := range paths {
			if err := measurePath(ctx, p, sz.Duration, results[i]); err != nil {
				return nil, err
			}
			r := results[i]
			logf("datapath rep %d %-22s 1 stream %.2f Gbit/s, 4 streams %.2f Gbit/s, %.0f conn/s", rep+1, p.Key,
				r.Gbps1[rep], r.Gbps4[rep], r.CRR[rep])
		}
	}
	return results, nil
}

// switchyardPair is a standalone Switchyard node with two pods attached through the CNI plugin.
func switchyardPair(ctx context.Context, c *cleanups, bins *Binaries) (Path, error) {
	n, err := startSwitchyardNode(ctx, c, bins, "10.249.0.0/24")
	if err != nil {
		return Path{}, err
	}
	a, err := newCNIAttacher(n.ns, n.conflist(), []string{bins.Dir}, filepath.Join(n.dir, "cni-cache"))
	if err != nil {
		return Path{}, err
	}
	var ips [2]string
	var pods [2]*benchPod
	for i := range pods {
		pns, err := newNetns(c, "s")
		if err != nil {
			return Path{}, err
		}
		pods[i] = &benchPod{name: fmt.Sprintf("dp-%d", i), ns: pns, containerID: uniqueName("c")}
		if ips[i], err = cniAddIP(ctx, a, pods[i]); err != nil {
			return Path{}, err
		}
		p := pods[i]
		c.add(func() { _, _ = a.del(context.Background(), p) })
	}
	return Path{Key: pathSameNode, Name: "Switchyard, same node (full pipeline)", ClientNS: pods[0].ns, ServerNS: pods[1].ns,
		ServerIP: ips[1], MTU: linkMTU(pods[0].ns, "eth0")}, nil
}

// cniAddIP runs CNI ADD and returns the pod's address.
func cniAddIP(ctx context.Context, a *cniAttacher, p *benchPod) (string, error) {
	var ip string
	err := ns.WithNetNSPath("/run/netns/"+a.nodeNS, func(ns.NetNS) error {
		res, err := a.cfg.AddNetworkList(ctx, a.list, a.rt(p))
		if err != nil {
			return err
		}
		r, err := types100.NewResultFromResult(res)
		if err != nil {
			return err
		}
		if len(r.IPs) == 0 {
			return fmt.Errorf("CNI result without an address")
		}
		ip = r.IPs[0].Address.IP.String()
		return nil
	})
	return ip, err
}

// normalBridgePair is a node namespace with a private OVS whose netdev bridge has one flow, actions=NORMAL, and
// two pods attached with Switchyard's own veth code (tx checksum off, as OVS userspace needs, same MTU).
func normalBridgePair(ctx context.Context, c *cleanups, mtu int) (Path, error) {
	node, err := newNetns(c, "o")
	if err != nil {
		return Path{}, err
	}
	if err := sysctls(node, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return Path{}, err
	}
	dir, err := tempDir(c, "sybno")
	if err != nil {
		return Path{}, err
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	o, err := privateovs.Start(octx, privateovs.Options{Dir: filepath.Join(dir, "ovs"), Netns: node})
	if err != nil {
		return Path{}, err
	}
	c.add(func() { _ = o.Stop() })
	const br = "br-normal"
	if err := o.Vsctl(octx, "add-br", br, "--", "set", "bridge", br, "datapath_type=netdev", "fail_mode=secure",
		"protocols=OpenFlow15"); err != nil {
		return Path{}, err
	}
	if _, err := o.Ofctl(octx, "add-flow", br, "table=0,priority=0,actions=NORMAL"); err != nil {
		return Path{}, err
	}
	var pods [2]string
	for i := range pods {
		if pods[i], err = newNetns(c, "q"); err != nil {
			return Path{}, err
		}
		ip := &net.IPNet{IP: net.IPv4(10, 248, 0, byte(i+2)).To4(), Mask: net.CIDRMask(24, 32)}
		host := fmt.Sprintf("bnveth%d", i)
		err := ns.WithNetNSPath("/run/netns/"+node, func(ns.NetNS) error {
			_, err := podnet.Setup("/run/netns/"+pods[i], podnet.Config{ContainerID: pods[i], IfName: "eth0", HostIfName: host,
				IP: ip, Gateway: net.IPv4(10, 248, 0, 1).To4(), MAC: podnet.PodMAC(ip.IP), MTU: mtu, TxChecksumOff: true})
			return err
		})
		if err != nil {
			return Path{}, err
		}
		if err := o.Vsctl(octx, "add-port", br, host); err != nil {
			return Path{}, err
		}
	}
	return Path{Key: pathNormal, Name: "OVS bridge, one table, actions=NORMAL (same netdev datapath)", ClientNS: pods[0],
		ServerNS: pods[1], ServerIP: "10.248.0.3", MTU: mtu}, nil
}

// vethPair is two namespaces joined by a veth pair, with default offloads (txOn) or tx checksum offload off.
func vethPair(c *cleanups, key, name string, mtu int, txOn bool) (Path, error) {
	a, err := newNetns(c, "va")
	if err != nil {
		return Path{}, err
	}
	b, err := newNetns(c, "vb")
	if err != nil {
		return Path{}, err
	}
	if err := run("ip", "-n", a, "link", "add", "eth0", "mtu", fmt.Sprint(mtu), "type", "veth", "peer", "name", "eth0",
		"netns", b, "mtu", fmt.Sprint(mtu)); err != nil {
		return Path{}, err
	}
	for i, n := range []string{a, b} {
		if err := run("ip", "-n", n, "addr", "add", fmt.Sprintf("10.247.%d.%d/24", boolInt(txOn), i+1), "dev", "eth0"); err != nil {
			return Path{}, err
		}
		if err := run("ip", "-n", n, "link", "set", "eth0", "up"); err != nil {
			return Path{}, err
		}
		if !txOn {
			if err := inNetns(n, "ethtool", "-K", "eth0", "tx", "off"); err != nil {
				return Path{}, err
			}
		}
	}
	return Path{Key: key, Name: name, ClientNS: a, ServerNS: b, ServerIP: fmt.Sprintf("10.247.%d.2", boolInt(txOn)), MTU: mtu}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
