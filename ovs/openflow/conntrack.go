package openflow

import (
	"context"
	"fmt"
	"net"
)

// FlushConntrack removes from the datapath's connection tracker, in zone, every entry whose original direction has
// ip as source or destination, or whose reply direction comes from ip (a connection to a Service that was DNATed to
// ip). A deleted pod's connections must not outlive it: an established TCP entry would stay for a day, and a new pod
// that gets the same IP would inherit its state.
func (c *Client) FlushConntrack(ctx context.Context, zone uint16, ip net.IP) error {
	z := fmt.Sprintf("zone=%d", zone)
	for _, tuples := range [][]string{{"ct_nw_src=" + ip.String()}, {"ct_nw_dst=" + ip.String()}, {"", "ct_nw_src=" + ip.String()}} {
		if _, err := c.appctl(ctx, append([]string{"dpctl/flush-conntrack", z}, tuples...)...); err != nil {
			return err
		}
	}
	return nil
}
