package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
)

func podsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pods",
		Short: "The pods attached on this node: address, MAC, veth and OVS port",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pods []api.Attachment
			if err := g.get(api.PathPods, &pods); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), pods)
			}
			renderPods(cmd.OutOrStdout(), pods)
			return nil
		},
	}
}

func renderPods(w io.Writer, pods []api.Attachment) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tINTERFACE\tIP\tMAC\tHOST VETH\tOFPORT")
	for _, p := range pods {
		name := p.PodNamespace + "/" + p.PodName
		if p.PodName == "" {
			name = p.ContainerID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", name, p.PodIfName, p.IPCIDR, p.PodMAC, p.HostIfName, p.OFPort)
	}
	tw.Flush()
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The agent's readiness, node, pod CIDR, bridge and counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s api.Status
			if err := g.get(api.PathStatus, &s); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), s)
			}
			renderStatus(cmd.OutOrStdout(), s)
			return nil
		},
	}
}

func renderStatus(w io.Writer, s api.Status) {
	ready := "ready"
	if !s.Ready {
		ready = "NOT READY: " + s.Reason
	}
	fmt.Fprintf(w, "agent:     %s\nnode:      %s\npod CIDR:  %s\nbridge:    %s (datapath %s)\npods:      %d\nflows:     %d\n",
		ready, s.Node, s.PodCIDR, s.Bridge, s.Datapath, s.LocalPods, s.Flows)
}
