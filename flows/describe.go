package flows

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Describe renders a flow's match and actions for people who do not read OpenFlow: register bits get the names of
// the pipeline's fields and marks, table numbers their table names. yardctl prints flows this way.
func Describe(match, actions string) (string, string) {
	return describeText(match, true), describeText(actions, false)
}

// namedMark is a register mark with the name yardctl shows.
type namedMark struct {
	name string
	mark RegMark
}

// describedMarks are the marks Describe names; the rest of a masked register match is shown as field=value.
var describedMarks = []namedMark{
	{"from-tunnel", FromTunnel}, {"from-gateway", FromGateway}, {"from-pod", FromPod}, {"output-ready", OutputReady},
}

// describedFields are the register fields Describe names.
var describedFields = []struct {
	name  string
	field RegField
}{
	{"PortKind", PortKindField}, {"OutputReady", OutputReadyField}, {"TargetOFPort", TargetOFPortField},
}

var (
	tableRef = regexp.MustCompile(`(goto_table:|resubmit\(,|table=)(\d+)`)
	nxmReg   = regexp.MustCompile(`NXM_NX_REG(\d+)\[(\d*)(?:\.\.(\d+))?\]`)
)

var arpReplyAction = regexp.MustCompile(`set_field:2->arp_op,.*set_field:([0-9a-f:]{17})->arp_sha,.*set_field:([0-9.]+)->arp_spa,IN_PORT$`)

func describeText(s string, isMatch bool) string {
	if m := arpReplyAction.FindStringSubmatch(s); !isMatch && m != nil {
		return fmt.Sprintf("answer the ARP request in OVS: %s is at %s", m[2], m[1])
	}
	if s == "" {
		if isMatch {
			return "any packet"
		}
		return "drop"
	}
	for _, m := range describedMarks {
		if isMatch {
			s = replaceToken(s, m.mark.Match(), m.name)
		} else {
			s = replaceToken(s, m.mark.Load(), "mark "+m.name)
		}
	}
	s = nxmReg.ReplaceAllStringFunc(s, func(t string) string {
		sub := nxmReg.FindStringSubmatch(t)
		reg, _ := strconv.Atoi(sub[1])
		for _, f := range describedFields {
			if f.field.Reg != reg {
				continue
			}
			if (sub[2] == "" && f.field.whole()) || sub[2] == strconv.Itoa(f.field.Start) && (sub[3] == strconv.Itoa(f.field.End) || sub[3] == "" && f.field.Start == f.field.End) {
				return f.name
			}
		}
		return t
	})
	for _, f := range describedFields {
		if f.field.whole() {
			s = regexp.MustCompile(fmt.Sprintf(`set_field:(0x[0-9a-f]+)->reg%d\b`, f.field.Reg)).ReplaceAllStringFunc(s, func(t string) string {
				v := strings.TrimSuffix(strings.TrimPrefix(t, "set_field:"), fmt.Sprintf("->reg%d", f.field.Reg))
				n, _ := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
				return fmt.Sprintf("%s:=%d", f.name, n)
			})
			s = regexp.MustCompile(fmt.Sprintf(`\breg%d=(0x[0-9a-f]+)\b`, f.field.Reg)).ReplaceAllStringFunc(s, func(t string) string {
				n, _ := strconv.ParseUint(strings.TrimPrefix(t, fmt.Sprintf("reg%d=0x", f.field.Reg)), 16, 32)
				return fmt.Sprintf("%s=%d", f.name, n)
			})
		}
	}
	s = tableRef.ReplaceAllStringFunc(s, func(t string) string {
		sub := tableRef.FindStringSubmatch(t)
		id, _ := strconv.Atoi(sub[2])
		if tb, ok := TableByID(uint8(id)); ok {
			if sub[1] == "goto_table:" {
				return "goto " + tb.Name
			}
			return sub[1] + tb.Name
		}
		return t
	})
	return s
}

// replaceToken replaces whole comma-separated tokens equal to old.
func replaceToken(s, old, repl string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if p == old {
			parts[i] = repl
		}
	}
	return strings.Join(parts, ",")
}
