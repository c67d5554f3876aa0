package main

import (
	"fmt"
	"strings"
)

// The report's comparison of every Switchyard path with the OVS NORMAL baseline of the same path (baselineOf): the
// issue's target is at least 0.8x of its throughput and connection rate.

// baselineTarget is the target ratio of Switchyard to its OVS NORMAL baseline.
const baselineTarget = 0.8

// switchyardPaths are the Switchyard paths in report order.
var switchyardPaths = []string{pathSameNode, "cross-geneve", "cross-vxlan", "cross-noencap"}

// pathPair is a measured Switchyard path and its measured baseline.
type pathPair struct{ sw, base *PathResult }

// baselinePairs returns the Switchyard paths of this run that have a measured baseline.
func (r *Report) baselinePairs() []pathPair {
	all := r.allPaths()
	var out []pathPair
	for _, key := range switchyardPaths {
		sw, base := findPath(all, key), findPath(all, baselineOf[key])
		if sw != nil && base != nil {
			out = append(out, pathPair{sw, base})
		}
	}
	return out
}

// allPaths are the same-machine and the cross-node paths.
func (r *Report) allPaths() []*PathResult {
	return append(append([]*PathResult{}, r.Datapath...), r.Crossnode...)
}

// pathLabel names the paths of a Switchyard-vs-baseline comparison in its rows.
var pathLabel = map[string]string{
	pathSameNode: "Switchyard same node", "cross-geneve": "Switchyard cross-node geneve",
	"cross-vxlan": "Switchyard cross-node vxlan", "cross-noencap": "Switchyard cross-node noEncap",
	pathNormal: "OVS NORMAL same node", pathNormalGeneve: "OVS NORMAL cross-node geneve",
	pathNormalVXLAN: "OVS NORMAL cross-node vxlan", pathNormalRouted: "OVS NORMAL cross-node routed",
}

// baselineTargets writes the Targets rows of the datapath: every figure of every Switchyard path against its
// baseline, and a row naming Switchyard paths measured without one (an older results.json, or -only).
func (r *Report) baselineTargets(b *strings.Builder) {
	pairs := r.baselinePairs()
	for _, pp := range pairs {
		for _, f := range pathFigures {
			s, n := summarize(f.get(pp.sw)), summarize(f.get(pp.base))
			fmt.Fprintf(b, "| %s %s >= %.1fx %s | %s vs %s %s: ratio %s | %s |\n", pathLabel[pp.sw.Key], f.name, baselineTarget,
				pathLabel[pp.base.Key], trimNum(s.Median), trimNum(n.Median), f.unit, ratio(s.Median, n.Median),
				ratioCells(s, n, func(x float64) bool { return x >= baselineTarget }))
		}
	}
	all := r.allPaths()
	for _, key := range switchyardPaths {
		if findPath(all, key) != nil && findPath(all, baselineOf[key]) == nil {
			fmt.Fprintf(b, "| %s >= %.1fx %s | baseline not measured in this run | n/a | n/a |\n", pathLabel[key], baselineTarget,
				pathLabel[baselineOf[key]])
		}
	}
}

// baselineRatios writes the table "Switchyard vs the NORMAL baseline of the same path".
func (r *Report) baselineRatios(b *strings.Builder) {
	pairs := r.baselinePairs()
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintf(b, "\nSwitchyard vs the NORMAL baseline of the same path (same datapath, network shape and MTU; medians; "+
		"target >= %.1f):\n\n| Switchyard path | its baseline | TCP 1 stream | TCP 4 streams | connections/s |\n|---|---|---|---|---|\n",
		baselineTarget)
	for _, pp := range pairs {
		fmt.Fprintf(b, "| %s | %s |", pathLabel[pp.sw.Key], pathLabel[pp.base.Key])
		for _, f := range pathFigures {
			s, n := summarize(f.get(pp.sw)).Median, summarize(f.get(pp.base)).Median
			fmt.Fprintf(b, " %s / %s = %s |", trimNum(s), trimNum(n), ratio(s, n))
		}
		b.WriteString("\n")
	}
}

// crossBaselineMethod is the method paragraph of the cross-node baselines.
const crossBaselineMethod = "**Baselines of the same path.** Each Switchyard path is compared with an OVS bridge on the same " +
	"netdev datapath whose only flow is `actions=NORMAL`, in the same network shape and at the same pod MTU, measured " +
	"in turn with it in every repetition: *OVS NORMAL* above for the same node; for each cross-node mode two node " +
	"namespaces on an underlay Linux bridge (as the lab lays them out), each with its own private OVS and one pod on " +
	"a NORMAL bridge. *geneve* and *vxlan*: the bridge also holds a tunnel port with the other node's address as " +
	"`remote_ip` (not flow-based), the two pods share one subnet across it, and the userspace tunnel gets what the " +
	"agent gives it (`agent/transport`): the node address on a netdev `br-phy` that owns the NIC, ARP off on the " +
	"NIC, br-phy's MAC pinned, the peer seeded with `tnl/neigh/set`. *routed*: the bridge's internal port is the " +
	"pod's gateway in the node's host stack, the NIC stays the kernel's and holds the node address, and each node " +
	"routes the other's pod subnet via the other's address, as Switchyard's noEncap mode does. Offloads are " +
	"Switchyard's for the mode: no userspace TSO and pods with tx checksum off for the tunnels; for noEncap, " +
	"ovs-vswitchd with `userspace-tso-enable=true` and pods that keep TSO, on both sides (start-ovs.sh sets it for " +
	"the netdev datapath in noEncap mode, docs/modes.md). The baselines are " +
	"built while the mode's lab is up, so both share the machine's load.\n\n"
