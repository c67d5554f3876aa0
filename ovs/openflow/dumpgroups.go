package openflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// DumpGroups returns every group of the bridge. Re-adding a returned group (AddGroup) recreates
// it exactly. A group using a property a Group cannot hold (fields, watch_port...) is
// an error rather than silently dropped.
func (c *Client) DumpGroups(ctx context.Context) ([]Group, error) {
	out, err := c.ofctl(ctx, "", "dump-groups", c.target)
	if err != nil {
		return nil, err
	}
	return parseGroupDump(out)
}

// parseGroupDump parses the output of `ovs-ofctl dump-groups`, skipping reply header lines.
func parseGroupDump(out string) ([]Group, error) {
	var groups []Group
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, " ") || strings.TrimSpace(line) == "" {
			continue
		}
		g, err := parseGroupLine(strings.TrimSpace(line))
		if err != nil {
			return nil, fmt.Errorf("dumped group %q: %w", strings.TrimSpace(line), err)
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// parseGroupLine parses
//
//	group_id=1,type=select,bucket=bucket_id:1,weight:100,actions=output:1,bucket=bucket_id:2,actions=output:2
//
// Each bucket runs from its "bucket=" to the next ",bucket=". Inside a bucket, "key:value"
// properties come first and "actions=" takes the rest.
func parseGroupLine(text string) (Group, error) {
	parts := strings.Split(text, ",bucket=")
	var g Group
	for _, prop := range strings.Split(parts[0], ",") {
		key, value, _ := strings.Cut(prop, "=")
		switch key {
		case "group_id":
			id, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return Group{}, fmt.Errorf("group_id %q: %w", value, err)
			}
			g.ID = uint32(id)
		case "type":
			g.Type = GroupType(value)
		case "selection_method":
			g.SelectionMethod = value
		default:
			return Group{}, fmt.Errorf("unsupported group property %q", prop)
		}
	}
	for _, text := range parts[1:] {
		b, err := parseBucket(text)
		if err != nil {
			return Group{}, err
		}
		g.Buckets = append(g.Buckets, b)
	}
	return g, nil
}

// parseBucket parses "bucket_id:1,weight:100,actions=output:1" (without "bucket=").
func parseBucket(text string) (Bucket, error) {
	props, actions, ok := strings.Cut(text, "actions=")
	if !ok {
		return Bucket{}, fmt.Errorf("bucket %q: no actions", text)
	}
	b := Bucket{Actions: actions}
	for _, prop := range strings.Split(strings.TrimSuffix(props, ","), ",") {
		if prop == "" {
			continue
		}
		key, value, _ := strings.Cut(prop, ":")
		switch key {
		case "bucket_id":
			id, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return Bucket{}, fmt.Errorf("bucket_id %q: %w", value, err)
			}
			b.ID = uint32(id)
		case "weight":
			w, err := strconv.ParseUint(value, 10, 16)
			if err != nil {
				return Bucket{}, fmt.Errorf("bucket weight %q: %w", value, err)
			}
			b.Weight = uint16(w)
		default:
			return Bucket{}, fmt.Errorf("unsupported bucket property %q", prop)
		}
	}
	return b, nil
}
