package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/switchyard-net/switchyard/cni/podnet"
)

// benchPod is a pod sandbox: a network namespace and a container id.
type benchPod struct {
	name, ns, containerID string
}

func (p *benchPod) netnsPath() string { return "/run/netns/" + p.ns }

// attacher attaches pods to a node and detaches them; each call reports how long the attachment step took.
type attacher interface {
	add(ctx context.Context, p *benchPod) (time.Duration, error)
	del(ctx context.Context, p *benchPod) (time.Duration, error)
}

// cniAttacher runs a CNI network configuration list through libcni, as a container runtime does (CNI_ARGS with
// IgnoreUnknown=1 and the pod's name, as containerd passes them). The plugin
// processes are started from a thread inside the node's namespace, so a plugin that works in "the host" (the
// bridge plugin creates its Linux bridge there) works in the node namespace and never in the machine's.
type cniAttacher struct {
	nodeNS string
	cfg    *libcni.CNIConfig
	list   *libcni.NetworkConfigList
	// daemons are the node's long-running processes whose CPU time the benchmark reports, by name (none for the
	// reference plugins, which run only as the plugin processes themselves).
	daemons map[string]int
	// vswitchdCtl is the node's ovs-vswitchd control socket ("" for the reference plugins): with -agent-logs,
	// its coverage counters are kept from before and after each ADD phase.
	vswitchdCtl string
}

// newCNIAttacher loads the conflist at path, with plugins from binDirs and the libcni cache in cacheDir.
func newCNIAttacher(nodeNS, conflist string, binDirs []string, cacheDir string) (*cniAttacher, error) {
	list, err := libcni.ConfListFromFile(conflist)
	if err != nil {
		return nil, err
	}
	return &cniAttacher{nodeNS: nodeNS, cfg: libcni.NewCNIConfigWithCacheDir(binDirs, cacheDir, nil), list: list}, nil
}

func (a *cniAttacher) daemonPIDs() map[string]int { return a.daemons }

func (a *cniAttacher) rt(p *benchPod) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: p.containerID, NetNS: p.netnsPath(), IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "bench"}, {"K8S_POD_NAME", p.name}}}
}

func (a *cniAttacher) add(ctx context.Context, p *benchPod) (d time.Duration, err error) {
	err = ns.WithNetNSPath("/run/netns/"+a.nodeNS, func(ns.NetNS) error {
		t0 := time.Now()
		_, err := a.cfg.AddNetworkList(ctx, a.list, a.rt(p))
		d = time.Since(t0)
		return err
	})
	return d, err
}

func (a *cniAttacher) del(ctx context.Context, p *benchPod) (d time.Duration, err error) {
	err = ns.WithNetNSPath("/run/netns/"+a.nodeNS, func(ns.NetNS) error {
		t0 := time.Now()
		err := a.cfg.DelNetworkList(ctx, a.list, a.rt(p))
		d = time.Since(t0)
		return err
	})
	return d, err
}

// writeBridgeConflist writes the reference configuration: the bridge plugin (a Linux bridge with the gateway
// address, no masquerade) with host-local IPAM storing its allocations in dir.
func writeBridgeConflist(dir, subnet string, mtu int) (string, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "bench-bridge",
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": "cni-bench0", "isGateway": true, "ipMasq": false, "mtu": mtu,
			"ipam": map[string]any{"type": "host-local", "ranges": [][]map[string]string{{{"subnet": subnet}}},
				"routes": []map[string]string{{"dst": "0.0.0.0/0"}}, "dataDir": filepath.Join(dir, "host-local")},
		}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "10-bridge.conflist")
	return path, os.WriteFile(path, b, 0o644)
}

// floorAttacher is the floor: the same veth, namespace, address and route steps as Switchyard (its own
// cni/podnet package, MTU and tx checksum off included), called in-process, with an in-memory address counter,
// no plugin process, no IPAM files and no switch.
type floorAttacher struct {
	nodeNS string
	subnet *net.IPNet
	mtu    int

	mu   sync.Mutex
	next int
	ips  map[string]*net.IPNet
}

func newFloorAttacher(nodeNS, subnet string, mtu int) (*floorAttacher, error) {
	_, n, err := net.ParseCIDR(subnet)
	if err != nil {
		return nil, err
	}
	return &floorAttacher{nodeNS: nodeNS, subnet: n, mtu: mtu, next: 0, ips: map[string]*net.IPNet{}}, nil
}

// allocate hands out the next address of the subnet (x.x.0.2 onwards, wrapping within the first /24s).
func (a *floorAttacher) allocate(id string) *net.IPNet {
	a.mu.Lock()
	defer a.mu.Unlock()
	ip := make(net.IP, 4)
	copy(ip, a.subnet.IP.To4())
	ip[2] += byte(a.next / 250)
	ip[3] = byte(a.next%250 + 2)
	a.next = (a.next + 1) % 1000
	addr := &net.IPNet{IP: ip, Mask: a.subnet.Mask}
	a.ips[id] = addr
	return addr
}

func (a *floorAttacher) add(_ context.Context, p *benchPod) (d time.Duration, err error) {
	err = ns.WithNetNSPath("/run/netns/"+a.nodeNS, func(ns.NetNS) error {
		t0 := time.Now()
		addr := a.allocate(p.containerID)
		gw := make(net.IP, 4)
		copy(gw, a.subnet.IP.To4())
		gw[3] = 1
		_, err := podnet.Setup(p.netnsPath(), podnet.Config{ContainerID: p.containerID, IfName: "eth0",
			HostIfName: podnet.HostVethName(p.containerID, "eth0"), IP: addr, Gateway: gw, MAC: podnet.PodMAC(addr.IP),
			MTU: a.mtu, TxChecksumOff: true})
		d = time.Since(t0)
		return err
	})
	return d, err
}

func (a *floorAttacher) del(_ context.Context, p *benchPod) (d time.Duration, err error) {
	err = ns.WithNetNSPath("/run/netns/"+a.nodeNS, func(ns.NetNS) error {
		t0 := time.Now()
		err := podnet.Teardown(p.netnsPath(), "eth0", podnet.HostVethName(p.containerID, "eth0"))
		a.mu.Lock()
		delete(a.ips, p.containerID)
		a.mu.Unlock()
		d = time.Since(t0)
		return err
	})
	if err != nil {
		err = fmt.Errorf("floor teardown of %s: %w", p.name, err)
	}
	return d, err
}
