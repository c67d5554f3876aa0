package openflow

import (
	"fmt"
	"strings"
)

// String names the op the way ovs-ofctl's bundle syntax does ("flow add", "group delete"...).
func (op ModOp) String() string {
	switch op {
	case AddFlow:
		return "flow add"
	case ModifyFlow:
		return "flow modify_strict"
	case DeleteFlow:
		return "flow delete_strict"
	case AddGroup:
		return "group add"
	case ModifyGroup:
		return "group modify"
	case DeleteGroup:
		return "group delete"
	}
	return fmt.Sprintf("ModOp(%d)", int(op))
}

// Line renders the mod as one line of `ovs-ofctl bundle` input, e.g.
//
//	flow add table=10,priority=200,cookie=0x1,ip,nw_dst=10.0.0.2,actions=output:3
//	flow modify_strict table=10,priority=200,ip,nw_dst=10.0.0.2,actions=drop
//	flow delete_strict table=10,priority=200,ip,nw_dst=10.0.0.2
//	group add group_id=1,type=select,bucket=bucket_id:1,weight:100,actions=output:3
//	group delete group_id=1
//
// A modify carries no cookie, so the flow keeps its own. Empty actions render as "drop". It
// fails for an unknown op, a group without a type, and text holding a line break (which would
// smuggle a second line into the bundle).
func (m Mod) Line() (string, error) {
	var line string
	switch m.Op {
	case AddFlow:
		line = fmt.Sprintf("%s table=%d,priority=%d,cookie=%#x%s,actions=%s",
			m.Op, m.Flow.Table, m.Flow.Priority, m.Flow.Cookie, prefixComma(m.Flow.Match), actionsOrDrop(m.Flow.Actions))
	case ModifyFlow:
		line = fmt.Sprintf("%s %s,actions=%s", m.Op, m.Flow.matchPart(), actionsOrDrop(m.Flow.Actions))
	case DeleteFlow:
		line = fmt.Sprintf("%s %s", m.Op, m.Flow.matchPart())
	case AddGroup, ModifyGroup:
		if m.Group.Type == "" {
			return "", fmt.Errorf("%s group_id=%d: no group type", m.Op, m.Group.ID)
		}
		line = fmt.Sprintf("%s %s", m.Op, groupText(m.Group))
	case DeleteGroup:
		line = fmt.Sprintf("%s group_id=%d", m.Op, m.Group.ID)
	default:
		return "", fmt.Errorf("unknown mod op %d", int(m.Op))
	}
	if strings.ContainsAny(line, "\r\n") {
		return "", fmt.Errorf("%s: line break inside %q", m.Op, line)
	}
	return line, nil
}

// BundleText renders mods as the stdin of `ovs-ofctl bundle <switch> -`: one line per mod, in
// order, each ending in a newline.
func BundleText(mods []Mod) (string, error) {
	var b strings.Builder
	for i, m := range mods {
		line, err := m.Line()
		if err != nil {
			return "", fmt.Errorf("mod %d: %w", i, err)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// groupText is "group_id=..,type=..[,bucket=...]" as group add/modify and dump-groups write it.
func groupText(g Group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "group_id=%d,type=%s", g.ID, g.Type)
	if g.SelectionMethod != "" {
		fmt.Fprintf(&b, ",selection_method=%s", g.SelectionMethod)
	}
	for _, bk := range g.Buckets {
		fmt.Fprintf(&b, ",bucket=bucket_id:%d", bk.ID)
		if bk.Weight != 0 {
			fmt.Fprintf(&b, ",weight:%d", bk.Weight)
		}
		fmt.Fprintf(&b, ",actions=%s", actionsOrDrop(bk.Actions))
	}
	return b.String()
}

func prefixComma(match string) string {
	if match == "" {
		return ""
	}
	return "," + match
}

func actionsOrDrop(actions string) string {
	if actions == "" {
		return "drop"
	}
	return actions
}
