package openflow

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/ovs/unixctl"
)

// FlushConntrack removes from the datapath's connection tracker, in each of zones, every entry whose original
// direction has ip as source or destination, or whose reply direction comes from ip (a connection to a Service that
// was DNATed to ip). A deleted pod's connections must not outlive it: an established TCP entry would stay for a day,
// and a new pod that gets the same IP would inherit its state. The flushes (three per zone) go to ovs-vswitchd as
// one batch.
func (c *Client) FlushConntrack(ctx context.Context, ip net.IP, zones ...uint16) error {
	var cmds []unixctl.Command
	for _, zone := range zones {
		z := fmt.Sprintf("zone=%d", zone)
		for _, tuples := range [][]string{{"ct_nw_src=" + ip.String()}, {"ct_nw_dst=" + ip.String()}, {"", "ct_nw_src=" + ip.String()}} {
			cmds = append(cmds, unixctl.Command{Method: "dpctl/flush-conntrack", Params: append([]string{z}, tuples...)})
		}
	}
	return c.appctlAll(ctx, cmds...) // one pass of vswitchd's main loop for all of them
}

// CTEntry is one connection of the datapath's tracker: its original tuple and where replies come from (for a
// DNATed connection, the endpoint).
type CTEntry struct {
	Proto                string // tcp, udp or sctp
	OrigSrc, OrigDst     net.IP
	OrigSport, OrigDport uint16
	ReplySrc             net.IP
	ReplySport           uint16
}

// ctEntryRe reads a TCP, UDP or SCTP entry of dpctl/dump-conntrack.
var ctEntryRe = regexp.MustCompile(`^(tcp|udp|sctp),orig=\(src=([0-9.]+),dst=([0-9.]+),sport=(\d+),dport=(\d+)\),reply=\(src=([0-9.]+),dst=[0-9.]+,sport=(\d+),dport=\d+\)`)

// DumpConntrack lists the IPv4 TCP, UDP and SCTP connections of the datapath's tracker in zone.
func (c *Client) DumpConntrack(ctx context.Context, zone uint16) ([]CTEntry, error) {
	out, err := c.appctl(ctx, "dpctl/dump-conntrack", fmt.Sprintf("zone=%d", zone))
	if err != nil {
		return nil, err
	}
	return parseConntrack(out), nil
}

// parseConntrack reads dpctl/dump-conntrack's output; other protocols and families are skipped.
func parseConntrack(out string) []CTEntry {
	var entries []CTEntry
	for _, line := range strings.Split(out, "\n") {
		m := ctEntryRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		port := func(s string) uint16 { n, _ := strconv.ParseUint(s, 10, 16); return uint16(n) }
		entries = append(entries, CTEntry{Proto: m[1], OrigSrc: net.ParseIP(m[2]).To4(), OrigDst: net.ParseIP(m[3]).To4(),
			OrigSport: port(m[4]), OrigDport: port(m[5]), ReplySrc: net.ParseIP(m[6]).To4(), ReplySport: port(m[7])})
	}
	return entries
}
