// Command fakecni stands in for the switchyard CNI plugin in the kubelet's unit tests: ADD puts an eth0 (a veth
// whose peer stays inside) with an address derived from the container id into the namespace, every call is
// appended to logFile, and ADD fails while failFile exists.
package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

type conf struct {
	types.PluginConf
	LogFile  string               `json:"logFile"`
	FailFile string               `json:"failFile"`
	Valid    []types.GCAttachment `json:"cni.dev/valid-attachments"`
}

func load(a *skel.CmdArgs) (*conf, error) {
	var c conf
	if err := json.Unmarshal(a.StdinData, &c); err != nil {
		return nil, fmt.Errorf("fakecni: config: %w", err)
	}
	return &c, nil
}

func record(c *conf, line string) {
	f, err := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// addrOf derives the pod's address from the container id: 10.250.200.2 to .251.
func addrOf(id string) *net.IPNet {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &net.IPNet{IP: net.IPv4(10, 250, 200, byte(2+h.Sum32()%250)), Mask: net.CIDRMask(24, 32)}
}

func add(a *skel.CmdArgs) error {
	c, err := load(a)
	if err != nil {
		return err
	}
	record(c, fmt.Sprintf("ADD %s %s %s", a.ContainerID, a.Netns, a.Args))
	if b, err := os.ReadFile(c.FailFile); err == nil {
		return fmt.Errorf("injected failure: %s", strings.TrimSpace(string(b)))
	}
	addr := addrOf(a.ContainerID)
	err = ns.WithNetNSPath(a.Netns, func(ns.NetNS) error {
		// A veth whose peer stays in the namespace too: the kernel may lack the dummy driver.
		link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a.IfName}, PeerName: a.IfName + "p"}
		if err := netlink.LinkAdd(link); err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: addr}); err != nil {
			return err
		}
		return netlink.LinkSetUp(link)
	})
	if err != nil {
		return fmt.Errorf("fakecni: ADD in %s: %w", a.Netns, err)
	}
	idx := 0
	res := &types100.Result{CNIVersion: c.CNIVersion,
		Interfaces: []*types100.Interface{{Name: a.IfName, Sandbox: a.Netns}},
		IPs:        []*types100.IPConfig{{Address: *addr, Interface: &idx}}}
	return types.PrintResult(res, c.CNIVersion)
}

func del(a *skel.CmdArgs) error {
	c, err := load(a)
	if err != nil {
		return err
	}
	record(c, fmt.Sprintf("DEL %s %s", a.ContainerID, a.Netns))
	if a.Netns != "" {
		_ = ns.WithNetNSPath(a.Netns, func(ns.NetNS) error {
			if l, err := netlink.LinkByName(a.IfName); err == nil {
				return netlink.LinkDel(l)
			}
			return nil
		})
	}
	return nil
}

func check(a *skel.CmdArgs) error {
	c, err := load(a)
	if err != nil {
		return err
	}
	record(c, fmt.Sprintf("CHECK %s %s", a.ContainerID, a.Netns))
	return ns.WithNetNSPath(a.Netns, func(ns.NetNS) error {
		_, err := netlink.LinkByName(a.IfName)
		return err
	})
}

func gc(a *skel.CmdArgs) error {
	c, err := load(a)
	if err != nil {
		return err
	}
	var ids []string
	for _, v := range c.Valid {
		ids = append(ids, v.ContainerID)
	}
	record(c, "GC "+strings.Join(ids, ","))
	return nil
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: add, Del: del, Check: check, GC: gc,
		Status: func(*skel.CmdArgs) error { return nil }}, version.All, "fakecni")
}
