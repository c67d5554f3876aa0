package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
)

func servicesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "services [namespace[/name]]",
		Short: "The Services this node load balances: entry points, group and endpoints (the group's buckets), flows and packets",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sl api.ServiceList
			if err := g.get(api.PathServices, &sl); err != nil {
				return err
			}
			var keep []api.ServiceInfo
			for _, s := range sl.Services {
				if len(args) == 0 || selects(args[0], s.Name) {
					keep = append(keep, s)
				}
			}
			sl.Services = keep
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), sl)
			}
			renderServices(cmd.OutOrStdout(), &sl)
			return nil
		},
	}
}

// selects says whether what the user typed (a namespace, or namespace/name) selects the object key ns/name.
func selects(want, key string) bool {
	if strings.Contains(want, "/") {
		return key == want
	}
	ns, _, _ := strings.Cut(key, "/")
	return ns == want
}

// renderServices prints each Service with its groups: where it is entered and the endpoints of each bucket.
func renderServices(w io.Writer, sl *api.ServiceList) {
	fmt.Fprintf(w, "node %s, %s\n", sl.Node, plural(len(sl.Services), "Service"))
	for _, s := range sl.Services {
		fmt.Fprintf(w, "\nService %s", s.Name)
		switch {
		case s.Ignored != "":
			fmt.Fprintf(w, ": not load balanced by Switchyard (%s)\n", s.Ignored)
			continue
		case len(s.LoadBalancers) == 0 && len(s.Rejected) == 0:
			fmt.Fprintf(w, ": no ports\n")
			continue
		}
		fmt.Fprintf(w, "  (%s, %s)\n", plural(s.Flows, "flow"), plural(int(s.Packets), "packet"))
		for _, lb := range s.LoadBalancers {
			extra := ""
			if lb.AffinitySeconds > 0 {
				extra = fmt.Sprintf(", session affinity %ds", lb.AffinitySeconds)
			}
			if !lb.InOVS {
				extra += ", NOT IN br-int"
			}
			fmt.Fprintf(w, "  group %d (%s%s): %s -> %s\n", lb.Group, lb.Protocol, extra, strings.Join(lb.Entries, ", "),
				plural(len(lb.Endpoints), "endpoint"))
			if len(lb.Endpoints) == 0 {
				fmt.Fprintf(w, "    (no bucket: connections to these entry points are dropped; externalTrafficPolicy Local without a local endpoint?)\n")
			}
			for i, e := range lb.Endpoints {
				where := ""
				switch {
				case e.Pod != "":
					where = "  pod " + e.Pod + " (this node)"
				case e.Local:
					where = "  (this node)"
				}
				fmt.Fprintf(w, "    bucket %d  %s%s\n", i, e.Address, where)
			}
		}
		for _, r := range s.Rejected {
			fmt.Fprintf(w, "  %s: no ready endpoint, the host refuses connections\n", r)
		}
	}
}

// plural is "1 flow", "3 flows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
