package openflow

import (
	"context"
	"regexp"
	"strings"
)

// Trace is what `ovs-appctl ofproto/trace` says a packet would do: the raw text and, parsed from
// it, each table lookup and each pass's datapath actions. A pass is the first run through the
// pipeline or one resumed after a recirculation (ct(table=..), select groups).
type Trace struct {
	Raw   string
	Steps []TraceStep // every table lookup, in the order OVS printed them, across passes
	// DatapathActions holds each pass's "Datapath actions:" text ("drop", "2", "ct(zone=3),recirc(0x1)").
	DatapathActions []string
}

// TraceStep is one table lookup. OVS 3.1 prints no table names, only ids.
type TraceStep struct {
	Pass   int    // index into Trace.DatapathActions
	Bridge string // the bridge being traversed (patch ports lead to others)
	Depth  int    // 0 for the pipeline's own tables; n inside n nested resubmits
	Table  uint8
	// Miss says no flow matched ("No match."); Priority, Cookie and Match are then zero.
	Miss     bool
	Priority uint16
	Cookie   uint64
	Match    string // the matched flow's match, without priority ("ip,in_port=1")
	Actions  []TraceAction
}

// TraceAction is one action the trace executed, with the remarks OVS printed under it, each
// keeping its marker: "-> output port is 2" explains, ">> Nonexistent output port" means the
// action did nothing.
type TraceAction struct {
	Text  string
	Notes []string
}

// Trace runs `ovs-appctl ofproto/trace <bridge> <flow> [args]` and parses it. flow is in
// ovs-ofctl syntax ("in_port=1,ip,nw_dst=10.0.0.2"); args are ofproto/trace options such as
// "--ct-next", "trk,est". A flow that does not parse gives a *RejectedError.
func (c *Client) Trace(ctx context.Context, flow string, args ...string) (*Trace, error) {
	out, err := c.appctl(ctx, append([]string{"ofproto/trace", c.bridge, flow}, args...)...)
	if err != nil {
		return nil, err
	}
	return ParseTrace(out)
}

// Dropped says no pass of the packet reached a port, a tunnel or the controller.
func (t *Trace) Dropped() bool {
	for _, actions := range t.DatapathActions {
		if delivers(actions) {
			return false
		}
	}
	return true
}

// FinalDatapathActions is the last "Datapath actions:" line ("" if there is none).
func (t *Trace) FinalDatapathActions() string {
	if len(t.DatapathActions) == 0 {
		return ""
	}
	return t.DatapathActions[len(t.DatapathActions)-1]
}

// OutputPorts are the OpenFlow ports the packet was output to, in order, as OVS names them: a
// number ("2"), "LOCAL" or "IN_PORT". output:<register> counts as the port OVS resolved it to.
// Outputs OVS skipped (">>" remarks such as a nonexistent port or the input port) are left out.
func (t *Trace) OutputPorts() []string {
	var ports []string
	for _, step := range t.Steps {
		for _, a := range step.Actions {
			if port, ok := a.outputPort(); ok {
				ports = append(ports, port)
			}
		}
	}
	return ports
}

// resolvedPort is OVS's note under output:<field>.
var resolvedPort = regexp.MustCompile(`^-> output port is (\S+)$`)

func (a TraceAction) outputPort() (string, bool) {
	port := ""
	switch {
	case a.Text == "LOCAL" || a.Text == "IN_PORT":
		port = a.Text
	case strings.HasPrefix(a.Text, "output:"):
		port = strings.TrimPrefix(a.Text, "output:")
	default:
		return "", false
	}
	for _, note := range a.Notes {
		if strings.HasPrefix(note, ">>") {
			return "", false
		}
		if m := resolvedPort.FindStringSubmatch(note); m != nil {
			port = m[1]
		}
	}
	return port, true
}

// delivers says whether datapath actions send the packet anywhere: a bare datapath port number,
// a tunnel push, the controller (userspace), or any of those inside clone(...).
func delivers(actions string) bool {
	for _, action := range splitTopLevel(actions) {
		name, inner, _ := strings.Cut(action, "(")
		switch {
		case action != "" && strings.Trim(action, "0123456789") == "":
			return true
		case name == "tnl_push" || name == "userspace":
			return true
		case name == "clone" && delivers(strings.TrimSuffix(inner, ")")):
			return true
		}
	}
	return false
}

// splitTopLevel splits on commas outside parentheses.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}
