package openflow

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// FlowCount returns the number of flows in each table that has any, from `ovs-ofctl
// dump-tables` (one cheap request, whatever the number of flows).
func (c *Client) FlowCount(ctx context.Context) (map[uint8]uint64, error) {
	out, err := c.ofctl(ctx, "", "dump-tables", c.target)
	if err != nil {
		return nil, err
	}
	return parseTableDump(out)
}

// tableHeader is "table 3:" or "tables 5...9: ditto" (optionally with a quoted table name).
var tableHeader = regexp.MustCompile(`^tables? (\d+)(?:\.\.\.(\d+))?(?: \("[^"]*"\))?:( ditto)?$`)

// parseTableDump parses OpenFlow 1.5 dump-tables output:
//
//	table 0:
//	  active=3, lookup=0, matched=0
//
//	tables 2...4: ditto
//
// "ditto" repeats the previous table's statistics.
func parseTableDump(out string) (map[uint8]uint64, error) {
	counts := map[uint8]uint64{}
	var current []uint64 // tables the next "active=" line belongs to
	var previous uint64
	set := func(tables []uint64, active uint64) {
		for _, t := range tables {
			if active > 0 {
				counts[uint8(t)] = active
			}
		}
	}
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			first, _ := strconv.ParseUint(m[1], 10, 8)
			last := first
			if m[2] != "" {
				last, _ = strconv.ParseUint(m[2], 10, 8)
			}
			current = current[:0]
			for t := first; t <= last; t++ {
				current = append(current, t)
			}
			if m[3] != "" {
				set(current, previous)
				current = current[:0]
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "active="); ok {
			num, _, _ := strings.Cut(rest, ",")
			active, err := strconv.ParseUint(num, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("dump-tables line %q: %w", line, err)
			}
			if len(current) == 0 {
				return nil, fmt.Errorf("dump-tables line %q: no table header before it", line)
			}
			set(current, active)
			previous = active
		}
	}
	return counts, nil
}
