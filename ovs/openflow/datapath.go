package openflow

import (
	"context"
	"strings"
)

// PurgeDatapathFlows removes every datapath flow (megaflow) of ovs-vswitchd and its revalidator state
// (`ovs-appctl revalidator/purge`), so that the next packet of every flow is translated again from the OpenFlow
// tables as they are now. Packets keep flowing meanwhile (through upcalls until the megaflows are back).
//
// OVS revalidates datapath flows by itself when the OpenFlow tables change, but not always correctly: with the
// userspace datapath a megaflow of Geneve-tunnelled traffic can keep its old actions after a change for as long as
// packets keep hitting it (docs/networkpolicy.md, "Datapath flows after a change"). A caller whose changes must take
// effect on established megaflows purges after applying them.
func (c *Client) PurgeDatapathFlows(ctx context.Context) error {
	_, err := c.appctl(ctx, "revalidator/purge")
	return err
}

// DatapathFlows returns the datapath flows of ovs-vswitchd, one per line, as `ovs-appctl dpctl/dump-flows` prints
// them (for tests and diagnostics).
func (c *Client) DatapathFlows(ctx context.Context) ([]string, error) {
	out, err := c.appctl(ctx, "dpctl/dump-flows")
	if err != nil {
		return nil, err
	}
	var flows []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "flow-dump from") {
			flows = append(flows, l)
		}
	}
	return flows, nil
}
