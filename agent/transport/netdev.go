package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/switchyard-net/switchyard/agent/gateway"
	"github.com/switchyard-net/switchyard/ovs/ovsdb"
)

// OVSDB is what PrepareNetdev and ReleaseNetdev need from the OVSDB client.
type OVSDB interface {
	EnsureBridge(ctx context.Context, spec ovsdb.BridgeSpec) error
	EnsurePort(ctx context.Context, spec ovsdb.PortSpec) error
	DeleteBridge(ctx context.Context, name string) error
	BridgeExternalIDs(bridge string) map[string]string
	WaitVswitchd(ctx context.Context) error
}

// ownerIDs mark what the agent created in OVSDB.
func ownerIDs(kind string) map[string]string {
	return map[string]string{"switchyard.io/owner": "switchyard", "switchyard.io/kind": kind}
}

// PrepareNetdev gives OVS's userspace tunnels what they need: the tunnel's underlay route must resolve to an OVS
// bridge of the netdev datapath. It ensures the physical bridge (netdev, fail_mode standalone so it forwards as a
// learning switch without the agent, its MAC pinned to PhysicalBridgeMAC of the node address), adds the transport
// interface as its port, turns ARP off on the interface (OVS reads it with AF_PACKET; the kernel must stay silent
// on it), and moves the interface's addresses and routes to the bridge. Every step checks first, so an agent
// restart finds it done and changes nothing. It returns the interface with Bridge set.
func PrepareNetdev(ctx context.Context, db OVSDB, tr *Interface, bridge string, log logrus.FieldLogger) (*Interface, error) {
	mac := PhysicalBridgeMAC(tr.Addr.IP)
	if err := db.EnsureBridge(ctx, ovsdb.BridgeSpec{Name: bridge, DatapathType: ovsdb.DatapathNetdev, Standalone: true,
		OtherConfig: map[string]string{"hwaddr": mac.String()}, ExternalIDs: ownerIDs("physical-bridge")}); err != nil {
		return nil, fmt.Errorf("physical bridge %s: %w", bridge, err)
	}
	if err := db.EnsurePort(ctx, ovsdb.PortSpec{Bridge: bridge, Name: tr.Name, ExternalIDs: ownerIDs("transport")}); err != nil {
		return nil, fmt.Errorf("adding transport interface %s to %s: %w", tr.Name, bridge, err)
	}
	if err := db.WaitVswitchd(ctx); err != nil {
		return nil, fmt.Errorf("ovs-vswitchd did not apply bridge %s: %w", bridge, err)
	}
	nic, err := netlink.LinkByName(tr.Name)
	if err != nil {
		return nil, fmt.Errorf("transport interface %s: %w", tr.Name, err)
	}
	br, err := gateway.WaitDevice(ctx, bridge)
	if err != nil {
		return nil, err
	}
	if nic.Attrs().RawFlags&unix.IFF_NOARP == 0 {
		if err := netlink.LinkSetARPOff(nic); err != nil {
			return nil, fmt.Errorf("transport interface %s: arp off: %w", tr.Name, err)
		}
		log.WithField("interface", tr.Name).Info("ARP off on the transport interface (OVS owns it now)")
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(br); err != nil {
			return nil, fmt.Errorf("bridge %s: set up: %w", bridge, err)
		}
	}
	if err := moveAddresses(nic, br, log); err != nil {
		return nil, err
	}
	out := *tr
	out.Bridge = bridge
	return &out, nil
}

// ReleaseNetdev undoes PrepareNetdev when the node no longer needs userspace tunnels (the mode changed to noEncap,
// or the datapath to system): the physical bridge's addresses and routes move back to the interface it took over,
// whose ARP is turned back on, and the bridge is deleted. It touches only a bridge the agent created (its
// external_ids say so); another bridge that holds the address is an error naming it. It returns the interface
// without Bridge. An interface that is not on the physical bridge is returned unchanged.
func ReleaseNetdev(ctx context.Context, db OVSDB, tr *Interface, log logrus.FieldLogger) (*Interface, error) {
	if tr.Bridge == "" {
		return tr, nil
	}
	if ids := db.BridgeExternalIDs(tr.Bridge); ids["switchyard.io/kind"] != ownerIDs("physical-bridge")["switchyard.io/kind"] {
		return nil, fmt.Errorf("the node address is on bridge %s, which Switchyard did not create: move it back to %s by hand or use a mode with encapsulation on the netdev datapath",
			tr.Bridge, tr.Name)
	}
	br, err := netlink.LinkByName(tr.Bridge)
	if err != nil {
		return nil, fmt.Errorf("physical bridge %s: %w", tr.Bridge, err)
	}
	nic, err := netlink.LinkByName(tr.Name)
	if err != nil {
		return nil, fmt.Errorf("transport interface %s: %w", tr.Name, err)
	}
	if err := netlink.LinkSetARPOn(nic); err != nil {
		return nil, fmt.Errorf("transport interface %s: arp on: %w", tr.Name, err)
	}
	if err := netlink.LinkSetUp(nic); err != nil {
		return nil, fmt.Errorf("transport interface %s: set up: %w", tr.Name, err)
	}
	if err := moveAddresses(br, nic, log); err != nil {
		return nil, err
	}
	if err := db.DeleteBridge(ctx, tr.Bridge); err != nil {
		return nil, fmt.Errorf("deleting the physical bridge %s: %w", tr.Bridge, err)
	}
	log.WithFields(logrus.Fields{"bridge": tr.Bridge, "interface": tr.Name}).
		Info("physical bridge removed: the mode needs no userspace tunnels, the node address is back on its interface")
	out := *tr
	out.Bridge = ""
	return &out, nil
}

// moveAddresses moves the global addresses and the routes of from to to: first the addresses are added to to, then
// the routes are replaced with routes through to (a replace swaps a route in place, so the default route never
// goes missing), and last the addresses are removed from from.
func moveAddresses(from, to netlink.Link, log logrus.FieldLogger) error {
	addrs, err := netlink.AddrList(from, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", from.Attrs().Name, err)
	}
	var moving []netlink.Addr
	for _, a := range addrs {
		if a.Scope == unix.RT_SCOPE_UNIVERSE {
			moving = append(moving, a)
		}
	}
	if len(moving) == 0 {
		return nil
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{LinkIndex: from.Attrs().Index, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("routes of %s: %w", from.Attrs().Name, err)
	}
	for _, a := range moving {
		na := &netlink.Addr{IPNet: a.IPNet, Label: "", Flags: a.Flags &^ unix.IFA_F_PERMANENT, Scope: a.Scope}
		if err := netlink.AddrReplace(to, na); err != nil {
			return fmt.Errorf("moving address %s from %s to %s: %w", a.IPNet, from.Attrs().Name, to.Attrs().Name, err)
		}
	}
	for _, r := range routes {
		if r.Protocol == unix.RTPROT_KERNEL || r.Table == unix.RT_TABLE_LOCAL || r.Type != unix.RTN_UNICAST {
			continue // the kernel makes these for the addresses
		}
		nr := r
		nr.LinkIndex = to.Attrs().Index
		nr.ILinkIndex = 0
		if err := netlink.RouteReplace(&nr); err != nil {
			return fmt.Errorf("moving route %s from %s to %s: %w", r, from.Attrs().Name, to.Attrs().Name, err)
		}
	}
	for _, a := range moving {
		if err := netlink.AddrDel(from, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("removing address %s from %s: %w", a.IPNet, from.Attrs().Name, err)
		}
		log.WithFields(logrus.Fields{"address": a.IPNet, "from": from.Attrs().Name, "to": to.Attrs().Name}).
			Info("moved the node address")
	}
	return nil
}

// TunnelNeighbors seeds OVS's tunnel neighbour cache. Without an entry OVS ARPs for the next hop of a tunnel
// packet itself and drops the packet that triggered it; entries age out after 15 idle minutes, so the seeds are
// renewed on every resync.
type TunnelNeighbors struct {
	Bridge      string // the physical bridge
	RunDir      string // OVS_RUNDIR
	VswitchdCtl string // ovs-appctl -t target; empty: ovs-vswitchd (found through RunDir)
}

// Set makes ip resolve to mac for tunnels through the physical bridge.
func (t TunnelNeighbors) Set(ctx context.Context, ip net.IP, mac net.HardwareAddr) error {
	target := t.VswitchdCtl
	if target == "" {
		target = "ovs-vswitchd"
	}
	cmd := exec.CommandContext(ctx, "ovs-appctl", "-t", target, "tnl/neigh/set", t.Bridge, ip.String(), mac.String())
	cmd.Env = os.Environ()
	if t.RunDir != "" {
		cmd.Env = append(cmd.Env, "OVS_RUNDIR="+t.RunDir)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ovs-appctl tnl/neigh/set %s %s %s: %v: %s", t.Bridge, ip, mac, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// RestoreWaitDB is what ReleaseFlowRestoreWait needs from the OVSDB client.
type RestoreWaitDB interface {
	FlowRestoreWait() bool
	SetFlowRestoreWait(ctx context.Context, on bool) error
	Ports(bridge string) []ovsdb.PortInfo
}

// ReleaseFlowRestoreWait clears other_config:flow-restore-wait at once when the node's address lives on the
// physical bridge of the netdev datapath. ovs-vswitchd forwards nothing while the flag is set, br-phy included, so
// the agent could not reach the API server to rebuild its flows and clear the flag after them. The userspace
// datapath keeps no flows across a vswitchd restart, so the flag protects nothing there: br-int has no flows either
// way until the agent reconciles. It reports whether it cleared the flag.
func ReleaseFlowRestoreWait(ctx context.Context, db RestoreWaitDB, bridge string, log logrus.FieldLogger) (bool, error) {
	if !db.FlowRestoreWait() || len(db.Ports(bridge)) == 0 {
		return false, nil
	}
	if err := db.SetFlowRestoreWait(ctx, false); err != nil {
		return false, fmt.Errorf("clearing flow-restore-wait for the physical bridge %s: %w", bridge, err)
	}
	log.WithField("bridge", bridge).Info("cleared flow-restore-wait early: the node's address is on the netdev physical bridge")
	return true, nil
}
