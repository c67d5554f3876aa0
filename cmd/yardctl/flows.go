package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
)

// flowFilter selects flows by table and owner.
type flowFilter struct {
	table, pod, service, policy, node string
}

func flowsCmd(g *globals) *cobra.Command {
	var f flowFilter
	c := &cobra.Command{
		Use:   "flows",
		Short: "br-int's flows grouped by the object that owns them, with table names and packet counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var fl api.FlowList
			if err := g.get(api.PathFlows, &fl); err != nil {
				return err
			}
			sel, err := f.apply(fl.Flows)
			if err != nil {
				return err
			}
			fl.Flows = sel
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), fl)
			}
			renderFlows(cmd.OutOrStdout(), &fl)
			return nil
		},
	}
	c.Flags().StringVar(&f.table, "table", "", "only this table (name or number)")
	c.Flags().StringVar(&f.pod, "pod", "", "only the flows of this pod (namespace/name)")
	c.Flags().StringVar(&f.service, "service", "", "only the flows of this Service (namespace/name)")
	c.Flags().StringVar(&f.policy, "policy", "", "only the flows of this NetworkPolicy (namespace/name)")
	c.Flags().StringVar(&f.node, "node", "", "only the flows towards this peer node")
	return c
}

// apply keeps the flows the filter selects.
func (f flowFilter) apply(in []api.FlowEntry) ([]api.FlowEntry, error) {
	table := -1
	if f.table != "" {
		if n, err := strconv.Atoi(f.table); err == nil && n >= 0 && n < 255 {
			table = n
		} else if t, ok := flows.TableByName(f.table); ok {
			table = int(t.ID)
		} else {
			var names []string
			for _, t := range flows.Tables() {
				names = append(names, t.Name)
			}
			return nil, fmt.Errorf("--table %q: no such table (tables: %s)", f.table, strings.Join(names, ", "))
		}
	}
	want := []struct{ kind, key string }{{flows.Pod.String(), f.pod}, {flows.Service.String(), f.service},
		{flows.Policy.String(), f.policy}, {flows.Node.String(), f.node}}
	var out []api.FlowEntry
	for _, e := range in {
		if table >= 0 && int(e.Table) != table {
			continue
		}
		keep := true
		for _, w := range want {
			if w.key != "" && (e.OwnerKind != w.kind || !ownerIs(e.Owner, w.key)) {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return out, nil
}

// ownerIs matches an owner key against what a user types: a pod's key is "ns/name/ifname@container", and
// "ns/name" selects all its interfaces.
func ownerIs(owner, want string) bool {
	return owner == want || strings.HasPrefix(owner, want+"/")
}

// renderFlows prints flows grouped by owner (the node's pipeline first), each group table by table.
func renderFlows(w io.Writer, fl *api.FlowList) {
	type group struct {
		title string
		flows []api.FlowEntry
	}
	groups := map[string]*group{}
	var order []string
	for _, e := range fl.Flows {
		title := "(not owned by this agent)"
		if e.OwnerKind != "" {
			title = e.OwnerKind + " " + e.Owner
		}
		if groups[title] == nil {
			groups[title] = &group{title: title}
			order = append(order, title)
		}
		groups[title].flows = append(groups[title].flows, e)
	}
	sort.SliceStable(order, func(i, j int) bool {
		return rank(order[i]) < rank(order[j]) || rank(order[i]) == rank(order[j]) && order[i] < order[j]
	})
	fmt.Fprintf(w, "node %s, bridge %s, %d flows\n", fl.Node, fl.Bridge, len(fl.Flows))
	for _, title := range order {
		g := groups[title]
		sort.SliceStable(g.flows, func(i, j int) bool {
			a, b := g.flows[i], g.flows[j]
			return a.Table < b.Table || a.Table == b.Table && a.Priority > b.Priority
		})
		fmt.Fprintf(w, "\n%s\n", g.title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, e := range g.flows {
			m, a := flows.Describe(e.Match, e.Actions)
			name := e.TableName
			if name == "" {
				name = strconv.Itoa(int(e.Table))
			}
			fmt.Fprintf(tw, "  %s\tprio %d\t%s\t-> %s\t%d pkts\n", name, e.Priority, m, a, e.Packets)
		}
		tw.Flush()
	}
}

// rank orders owner groups: the node's pipeline, nodes, pods, services, policies, then the rest.
func rank(title string) int {
	for i, k := range []string{flows.Pipeline.String(), flows.Node.String(), flows.Pod.String(), flows.Service.String(), flows.Policy.String()} {
		if strings.HasPrefix(title, k+" ") {
			return i
		}
	}
	return 99
}
