package openflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	// traceStepLine is a table lookup: OVS prints the table id as "%2d. " after 4 spaces per
	// nesting level (" 0. ip,in_port=1, priority 10, cookie 0xa", "     5. priority 32768").
	traceStepLine = regexp.MustCompile(`^( *)(\d+)\. (.*)$`)
	// traceRule is the matched rule: "[match, ]priority N[, cookie 0xC]".
	traceRule   = regexp.MustCompile(`^(?:(.*), )?priority (\d+)(?:, cookie (0x[0-9a-fA-F]+))?$`)
	traceBridge = regexp.MustCompile(`^bridge\("(.*)"\)$`)
)

// ParseTrace parses the output of ofproto/trace (OVS 3.1 format). Each action or remark line
// belongs to the latest table lookup printed left of it, which is how nested resubmits are told
// apart from the actions that follow them.
func ParseTrace(raw string) (*Trace, error) {
	t := &Trace{Raw: raw}
	var open []int    // indexes into t.Steps of the lookups still nested around the current line
	var columns []int // the column each open lookup's "%2d" starts at
	bridge := ""
	for _, line := range strings.Split(raw, "\n") {
		if actions, ok := strings.CutPrefix(line, "Datapath actions: "); ok {
			t.DatapathActions = append(t.DatapathActions, strings.TrimSpace(actions))
			continue
		}
		if m := traceBridge.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			bridge, open, columns = m[1], open[:0], columns[:0]
			continue
		}
		if !strings.HasPrefix(line, " ") && !traceStepLine.MatchString(line) {
			continue // Flow:, Final flow:, Megaflow:, separators, recirculation banners, blank
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if m := traceStepLine.FindStringSubmatch(line); m != nil {
			column := len(m[1])
			if len(m[2]) < 2 {
				column-- // "%2d" padded the id with a space
			}
			for len(columns) > 0 && columns[len(columns)-1] >= column {
				open, columns = open[:len(open)-1], columns[:len(columns)-1]
			}
			step, err := parseTraceStep(m[2], m[3])
			if err != nil {
				return nil, err
			}
			step.Pass, step.Bridge, step.Depth = len(t.DatapathActions), bridge, len(open)
			t.Steps = append(t.Steps, step)
			open, columns = append(open, len(t.Steps)-1), append(columns, column)
			continue
		}
		for len(columns) > 0 && columns[len(columns)-1] >= indent {
			open, columns = open[:len(open)-1], columns[:len(columns)-1]
		}
		if len(open) == 0 {
			continue // "thaw", "Resuming from table 10": not inside a lookup
		}
		step := &t.Steps[open[len(open)-1]]
		text := strings.TrimSpace(line)
		if strings.HasPrefix(text, "->") || strings.HasPrefix(text, ">>") {
			if n := len(step.Actions); n > 0 {
				step.Actions[n-1].Notes = append(step.Actions[n-1].Notes, text)
			}
			continue
		}
		step.Actions = append(step.Actions, TraceAction{Text: text})
	}
	if len(t.DatapathActions) == 0 {
		return nil, fmt.Errorf("ofproto/trace output has no \"Datapath actions:\" line: %q", raw)
	}
	return t, nil
}

// parseTraceStep parses what follows "N. ": a miss or the matched rule.
func parseTraceStep(table, rule string) (TraceStep, error) {
	id, err := strconv.ParseUint(table, 10, 8)
	if err != nil {
		return TraceStep{}, fmt.Errorf("trace step %q: table: %w", table+". "+rule, err)
	}
	step := TraceStep{Table: uint8(id)}
	// "No match.", "No match, and a "packet-in" is called for.", "Packets are IP fragments...".
	if strings.HasPrefix(rule, "No match") || strings.HasPrefix(rule, "Packets are IP fragments") {
		step.Miss = true
		return step, nil
	}
	m := traceRule.FindStringSubmatch(rule)
	if m == nil {
		return TraceStep{}, fmt.Errorf("trace step %q: not a rule or a miss", table+". "+rule)
	}
	priority, err := strconv.ParseUint(m[2], 10, 16)
	if err != nil {
		return TraceStep{}, fmt.Errorf("trace step %q: priority: %w", table+". "+rule, err)
	}
	step.Priority, step.Match = uint16(priority), m[1]
	if m[3] != "" {
		if step.Cookie, err = strconv.ParseUint(m[3], 0, 64); err != nil {
			return TraceStep{}, fmt.Errorf("trace step %q: cookie: %w", table+". "+rule, err)
		}
	}
	return step, nil
}
