package openflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// DefaultPriority is the priority OpenFlow gives a flow that names none; dumps omit it.
const DefaultPriority = 32768

// DumpFlows returns every flow of the bridge, in ovs-ofctl's order, with packet and byte counts.
// Re-adding a returned flow (AddFlow) recreates it exactly, except for what a Flow does not hold:
// timeouts, importance and flags such as send_flow_rem (this package never sets them).
func (c *Client) DumpFlows(ctx context.Context) ([]Flow, error) {
	return c.DumpFlowsMatching(ctx, "")
}

// DumpFlowsMatching returns the flows ovs-ofctl's dump-flows selects with filter, e.g.
// "cookie=0x10000/0xffff0000" or "table=10,ip". An empty filter selects every flow.
func (c *Client) DumpFlowsMatching(ctx context.Context, filter string) ([]Flow, error) {
	args := []string{"dump-flows", c.target}
	if filter != "" {
		args = append(args, filter)
	}
	out, err := c.ofctl(ctx, "", args...)
	if err != nil {
		return nil, err
	}
	return parseFlowDump(out)
}

// parseFlowDump parses the output of `ovs-ofctl dump-flows`, with or without --no-stats. Reply
// header lines ("OFPST_FLOW reply ...", one per reply message) are skipped.
func parseFlowDump(out string) ([]Flow, error) {
	var flows []Flow
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, " ") || strings.TrimSpace(line) == "" {
			continue
		}
		f, err := parseFlowLine(line)
		if err != nil {
			return nil, err
		}
		flows = append(flows, f)
	}
	return flows, nil
}

// parseFlowLine parses one dumped flow:
//
//	cookie=0x10, duration=1.2s, table=0, n_packets=3, n_bytes=180, idle_age=0, priority=100,ip,in_port=1 actions=goto_table:10
//
// The fields before the match are "key=value" items each followed by ", " (flags such as
// "send_flow_rem" are space-separated inside one item). The match has no spaces and starts with
// "priority=N," unless the priority is DefaultPriority. Everything after "actions=" is the
// actions. Fields a Flow does not hold (durations, ages, timeouts, flags) are ignored.
func parseFlowLine(line string) (Flow, error) {
	text := strings.TrimSpace(line)
	at := strings.Index(text, "actions=")
	if at < 0 || (at > 0 && text[at-1] != ' ') {
		return Flow{}, fmt.Errorf("dumped flow %q: no actions", text)
	}
	f := Flow{Priority: DefaultPriority, Actions: text[at+len("actions="):]}
	items := strings.Split(text[:at], ", ")
	f.Match = strings.TrimSpace(items[len(items)-1])
	for _, item := range items[:len(items)-1] {
		for _, word := range strings.Fields(item) {
			if err := f.setStat(word); err != nil {
				return Flow{}, fmt.Errorf("dumped flow %q: %w", text, err)
			}
		}
	}
	if rest, ok := strings.CutPrefix(f.Match, "priority="); ok {
		num, match, _ := strings.Cut(rest, ",")
		p, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			return Flow{}, fmt.Errorf("dumped flow %q: priority %q: %w", text, num, err)
		}
		f.Priority, f.Match = uint16(p), match
	}
	return f, nil
}

// setStat stores one "key=value" field that precedes the match, if the Flow holds it.
func (f *Flow) setStat(word string) error {
	key, value, ok := strings.Cut(word, "=")
	if !ok {
		return nil // a flag such as send_flow_rem
	}
	var err error
	switch key {
	case "cookie":
		f.Cookie, err = strconv.ParseUint(value, 0, 64)
	case "table":
		var t uint64
		t, err = strconv.ParseUint(value, 10, 8)
		f.Table = uint8(t)
	case "n_packets":
		f.Packets, err = strconv.ParseUint(value, 10, 64)
	case "n_bytes":
		f.Bytes, err = strconv.ParseUint(value, 10, 64)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// DeleteFlows deletes every flow whose cookie matches cookie under mask (cookie&mask ==
// flow.Cookie&mask), in all tables. A zero mask is refused: it would match every flow (use
// DeleteAllFlowsAndGroups for that).
func (c *Client) DeleteFlows(ctx context.Context, cookie, mask uint64) error {
	if mask == 0 {
		return fmt.Errorf("delete flows with cookie %#x: mask 0 would delete every flow", cookie)
	}
	_, err := c.ofctl(ctx, "", "del-flows", c.target, fmt.Sprintf("cookie=%#x/%#x", cookie, mask))
	return err
}

// DeleteAllFlowsAndGroups empties the bridge's flow tables and group table in one bundle (for
// tests and uninstall).
func (c *Client) DeleteAllFlowsAndGroups(ctx context.Context) error {
	_, err := c.ofctl(ctx, "flow delete\ngroup delete group_id=all\n", "bundle", c.target, "-")
	return err
}
