package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
)

func policiesCmd(g *globals) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "policies [namespace[/name]]",
		Short: "The NetworkPolicies realized on this node: the local pods each isolates (with dropped packets) and its rules",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pl api.PolicyList
			if err := g.get(api.PathPolicies, &pl); err != nil {
				return err
			}
			var keep []api.PolicyInfo
			others := 0
			for _, p := range pl.Policies {
				switch {
				case len(args) > 0 && !selects(args[0], p.Name):
				case len(p.Isolates) == 0 && !all && len(args) == 0:
					others++
				default:
					keep = append(keep, p)
				}
			}
			pl.Policies = keep
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), pl)
			}
			renderPolicies(cmd.OutOrStdout(), &pl, others)
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "also the policies that isolate no pod of this node")
	return c
}

// renderPolicies prints each policy: the local pods it isolates, then its rules in plain words. others is the
// number of policies left out because they isolate no local pod.
func renderPolicies(w io.Writer, pl *api.PolicyList, others int) {
	fmt.Fprintf(w, "node %s, %s", pl.Node, plural(len(pl.Policies), "NetworkPolicy"))
	if others > 0 {
		fmt.Fprintf(w, " (and %d isolating no pod of this node: --all shows them)", others)
	}
	fmt.Fprintln(w)
	for _, p := range pl.Policies {
		fmt.Fprintf(w, "\nPolicy %s\n", p.Name)
		if len(p.Isolates) == 0 {
			fmt.Fprintf(w, "  isolates no pod of this node\n")
		}
		for _, iso := range p.Isolates {
			fmt.Fprintf(w, "  isolates pod %s for %s: %s dropped (flows: --policy pod:%s)\n", iso.Pod, iso.Direction,
				plural(int(iso.Denied), "packet"), iso.Pod)
		}
		if len(p.Rules) == 0 {
			fmt.Fprintf(w, "  no rule: nothing is allowed in the directions it isolates\n")
		}
		for _, r := range p.Rules {
			peer := "from"
			if r.Direction == "egress" {
				peer = "to"
			}
			fmt.Fprintf(w, "  %s rule %d: allows %s %s on %s\n", r.Direction, r.Index, peer, words(r.Peers, "anyone"), words(r.Ports, "any port"))
		}
		for _, e := range p.Errors {
			fmt.Fprintf(w, "  error (rule ignored): %s\n", e)
		}
		for _, e := range p.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", e)
		}
	}
}

// words joins alternatives: "a", "a or b"; "any" alone reads as anyWord.
func words(alts []string, anyWord string) string {
	if len(alts) == 0 {
		return "nothing"
	}
	if len(alts) == 1 && alts[0] == "any" {
		return anyWord
	}
	return strings.Join(alts, " or ")
}
