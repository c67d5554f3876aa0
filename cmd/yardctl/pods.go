package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
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
			if err := g.get(api.PathStatus+"?detail=true", &s); err != nil {
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
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "agent:\t%s\nnode:\t%s\npod CIDR:\t%s\nbridge:\t%s (datapath %s)\npods:\t%d\nflows:\t%d\n",
		ready, s.Node, s.PodCIDR, s.Bridge, s.Datapath, s.LocalPods, s.Flows)
	d := s.Detail
	if d == nil {
		return
	}
	fmt.Fprintf(tw, "OVSDB:\t%s\nOpenFlow:\t%s\nKubernetes API:\t%s\nremote API:\t%s\npeers:\t%d\nServices:\t%d with flows here\nNetworkPolicies:\t%d\n",
		connected(d.OVSDB), connected(d.OpenFlow), d.KubeAPI, orDash(d.RemoteAPI), d.Peers, d.Services, d.Policies)
	var names []string
	for _, t := range flows.Tables() {
		if n, ok := d.FlowsPerTable[t.Name]; ok {
			names = append(names, fmt.Sprintf("%s %d", t.Name, n))
		}
	}
	if len(names) > 0 {
		fmt.Fprintf(tw, "flows by table:\t%s\n", strings.Join(names, ", "))
	}
}

func connected(ok bool) string {
	if ok {
		return "connected"
	}
	return "NOT CONNECTED"
}
