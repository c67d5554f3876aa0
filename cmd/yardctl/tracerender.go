package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/flows"
)

// header is "tcp x/a (10.244.0.2) -> Service x/web (10.96.0.10):80".
func (p *tracePath) header() string {
	dst := p.Dst.String()
	if p.Port != 0 {
		dst += fmt.Sprintf(":%d", p.Port)
	}
	return fmt.Sprintf("%s %s -> %s", p.Proto, p.Src, dst)
}

// renderTrace prints every hop's steps in plain words and the final verdict; withFlows adds the matched flows.
func renderTrace(w io.Writer, p *tracePath, withFlows bool) {
	fmt.Fprintf(w, "trace %s\n", p.header())
	for _, h := range p.Hops {
		fmt.Fprintf(w, "\nnode %s: from %s\n", h.Node, h.From)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range h.Steps {
			says := s.Says
			if s.Simulated {
				says += " (simulated: ofproto/trace did not follow the bucket)"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", s.TableName, says)
			if withFlows {
				owner := "not owned by this agent"
				if s.OwnerKind != "" {
					owner = s.OwnerKind + " " + s.Owner
				}
				if s.Miss {
					fmt.Fprintf(tw, "  \t  (no flow matched)\n")
					continue
				}
				m, a := flows.Describe(s.Match, strings.Join(s.Actions, ","))
				fmt.Fprintf(tw, "  \t  prio %d %s -> %s [%s]\n", s.Priority, m, a, owner)
			}
		}
		tw.Flush()
		if n := h.NAT; n != nil && n.Endpoints > 1 {
			why := "the first; --endpoint follows another"
			switch n.Chosen {
			case api.ChosenNamed:
				why = "as --endpoint asked"
			case api.ChosenConntrack:
				why = fmt.Sprintf("the one the datapath gave the client's connection from port %d (conntrack)", n.ClientPort)
			}
			fmt.Fprintf(w, "  (Service %s: group %d has %d endpoints (%s); the datapath picks one per connection by a hash of its addresses\n"+
				"   and ports; this trace follows bucket %d, %s, %s)\n", n.Service, n.Group, n.Endpoints, strings.Join(n.Choices, ", "),
				n.Bucket, n.Endpoint, why)
		}
		fmt.Fprintf(w, "  => %s\n", h.Verdict.Summary)
	}
	if p.Stopped != "" {
		fmt.Fprintf(w, "\n(%s)\n", p.Stopped)
	}
	fmt.Fprintf(w, "\nverdict: %s\n", explainLine(p))
}

// explainLine is the whole path in one line: the outcome, where, and what decided it.
func explainLine(p *tracePath) string {
	if len(p.Hops) == 0 {
		return p.header() + ": not traced"
	}
	last := p.Hops[len(p.Hops)-1]
	v := last.Verdict
	var nodes []string
	for _, h := range p.Hops {
		nodes = append(nodes, h.Node)
	}
	route := strings.Join(nodes, " -> ")
	var why []string
	for _, h := range p.Hops {
		if n := h.NAT; n != nil && n.Endpoint != "" {
			nat := fmt.Sprintf("Service %s -> %s", n.Service, n.Endpoint)
			if n.Endpoints > 1 {
				how := "the first"
				switch n.Chosen {
				case api.ChosenNamed:
					how = "named by --endpoint"
				case api.ChosenConntrack:
					how = "the client's connection in conntrack"
				}
				nat += fmt.Sprintf(" (endpoint %d of %d: %s)", n.Bucket+1, n.Endpoints, how)
			}
			why = append(why, nat)
		}
		for _, s := range h.Steps {
			if s.OwnerKind == flows.Policy.String() && strings.HasPrefix(s.Says, "allowed") {
				why = append(why, s.Says+" on "+h.Node)
			}
		}
	}
	because := ""
	if len(why) > 0 {
		because = "; " + strings.Join(why, "; ")
	}
	switch v.Kind {
	case api.VerdictDelivered:
		return fmt.Sprintf("delivered: %s reaches pod %s on %s (path %s%s)", p.header(), v.Pod, last.Node, route, because)
	case api.VerdictDropped:
		decider := ""
		if v.Decider != "" && !strings.HasPrefix(v.Decider, flows.Pipeline.String()) && !strings.Contains(v.Reason, strings.TrimPrefix(v.Decider, "Policy ")) {
			decider = " [" + v.Decider + "]"
		}
		return fmt.Sprintf("dropped: %s on %s in %s: %s%s (path %s%s)", p.header(), last.Node, v.Table, v.Reason, decider, route, because)
	case api.VerdictRefused:
		return fmt.Sprintf("refused: %s on %s: %s", p.header(), last.Node, v.Reason)
	}
	out := fmt.Sprintf("%s: %s leaves %s %s (path %s%s)", v.Kind, p.header(), last.Node, v.Summary, route, because)
	if p.Stopped != "" {
		out += "; " + p.Stopped
	}
	return out
}
