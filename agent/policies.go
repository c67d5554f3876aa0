package agent

import (
	"context"
	"net/netip"

	"github.com/switchyard-net/switchyard/agent/metrics"
	"github.com/switchyard-net/switchyard/agent/networkpolicy"
	"github.com/switchyard-net/switchyard/agent/podconntrack"
	"github.com/switchyard-net/switchyard/ovs/openflow"
	"github.com/switchyard-net/switchyard/ovs/unixctl"
)

// NetworkPolicy (docs/networkpolicy.md): the networkpolicy controller programs EgressRule and IngressRule from
// the API's NetworkPolicies, Pods and Namespaces; the drop counters of isolated local pods are exported as
// switchyard_denied_packets_total. The same Pod watch tells package podconntrack which remote pods are gone, so
// their connections are flushed here too (CNI DEL flushes them on the pod's own node).

// stagePolicies starts the informers and stages the policy flows before the first Reconcile, so a restarted agent
// keeps isolated pods isolated. Standalone agents (no Kubernetes) have no policies.
func (a *Agent) stagePolicies(ctx context.Context) error {
	if a.kube == nil {
		return nil
	}
	a.podConntrack = podconntrack.New(a.conntrackDatapath(), a.log.WithField("component", "podconntrack"))
	c, err := networkpolicy.New(networkpolicy.Config{NodeName: a.cfg.NodeName, PodGone: a.podConntrack.Gone,
		PurgeDatapath: a.of.PurgeDatapathFlows,
		DeniedLogging: a.deniedLogging, LogDenied: a.cfg.LogDeniedConnections, Events: a.events}, a.kube,
		a.store, a.localPort, a.log.WithField("component", "networkpolicy"))
	if err != nil {
		return err
	}
	if err := c.StageAll(ctx); err != nil {
		return err
	}
	a.policies = c
	return nil
}

// runPolicies, after the first Reconcile: the controller's worker and the denied-packet metrics.
func (a *Agent) runPolicies(ctx context.Context) error {
	if a.policies == nil {
		return nil
	}
	a.metrics.ObserveDenied(func(ctx context.Context) ([]metrics.DeniedCount, error) {
		denied, err := a.policies.DeniedPackets(ctx, a.of, a.store.OwnerOf)
		out := make([]metrics.DeniedCount, len(denied))
		for i, d := range denied {
			out[i] = metrics.DeniedCount{Policy: d.Policy, Pod: d.Pod, Direction: d.Direction, Packets: d.Packets}
		}
		return out, err
	})
	go a.podConntrack.Run(ctx, a.policies.PodIPInUse)
	return a.policies.Run(ctx)
}

// conntrackDatapath is the pipeline's and the SNAT zone of this node's ovs-vswitchd, for package podconntrack. Its
// dumps and exact-tuple flushes go over a unixctl connection of their own (closed when the agent stops), so that
// they do not queue behind the pod attachments' commands.
func (a *Agent) conntrackDatapath() podconntrack.OVS {
	target, runDir := a.cfg.VswitchdCtl, a.cfg.OVSRunDir
	if target == "" {
		target = "ovs-vswitchd"
	}
	if runDir == "" {
		runDir = openflow.DefaultRunDir
	}
	a.ctCtl = unixctl.New(target, runDir)
	return podconntrack.OVS{
		Appctl: a.ctCtl.Call,
		Zones:  []uint16{uint16(a.cfg.CTZone), uint16(a.cfg.SNATCTZone)},
		FlushAddrIn: func(ctx context.Context, zone uint16, ip netip.Addr) error {
			return a.of.FlushConntrack(ctx, ip.AsSlice(), zone)
		},
	}
}

// localPort finds a local pod's attachment: its address and OpenFlow port.
func (a *Agent) localPort(namespace, name string) (netip.Addr, uint32, bool) {
	for _, p := range a.pods.List() {
		if p.Namespace == namespace && p.Name == name && p.OFPort > 0 && p.IP != nil {
			if ip, ok := netip.AddrFromSlice(p.IP.IP.To4()); ok {
				return ip, uint32(p.OFPort), true
			}
		}
	}
	return netip.Addr{}, 0, false
}
