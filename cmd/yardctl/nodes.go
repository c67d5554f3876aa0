package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
)

func nodesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "nodes",
		Short: "The peer nodes and how this node reaches each (encap through the tunnel, or direct routing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var nl api.NodeList
			if err := g.get(api.PathNodes, &nl); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), nl)
			}
			renderNodes(cmd.OutOrStdout(), &nl)
			return nil
		},
	}
}

// renderNodes prints this node's mode and its peers as a table.
func renderNodes(w io.Writer, nl *api.NodeList) {
	mode := nl.TrafficMode
	if nl.TunnelType != "" {
		mode += ", " + nl.TunnelType
	}
	fmt.Fprintf(w, "node %s (%s), transport %s, pod CIDR %s\n", nl.Node, mode, orDash(nl.TransportIP), nl.PodCIDR)
	if len(nl.Peers) == 0 {
		fmt.Fprintln(w, "no peers (standalone, or no other node has a pod CIDR and an InternalIP yet)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tTRANSPORT IP\tPOD CIDRS\tMODE\tTUNNEL")
	for _, p := range nl.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.TransportIP, strings.Join(p.PodCIDRs, ","), p.Mode, orDash(p.Tunnel))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
