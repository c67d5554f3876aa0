package openflow

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Meter is an OpenFlow meter with one drop band in packets per second: packets over Rate (after a burst of
// Burst packets) are dropped by the flow action meter:<ID>. The userspace datapath supports meters; the kernel
// datapath from Linux 4.15.
type Meter struct {
	ID    uint32
	Rate  uint32 // packets per second
	Burst uint32 // packets; 0 means Rate
}

// spec is the meter in ovs-ofctl's add-meter syntax.
func (m Meter) spec() (string, error) {
	if m.ID == 0 || m.Rate == 0 {
		return "", fmt.Errorf("meter %d: id and rate must be positive (rate %d)", m.ID, m.Rate)
	}
	burst := m.Burst
	if burst == 0 {
		burst = m.Rate
	}
	return fmt.Sprintf("meter=%d,pktps,burst,band=type=drop,rate=%d,burst_size=%d", m.ID, m.Rate, burst), nil
}

// SetMeter adds the meter, or replaces its band if a meter with its id exists (OVS keeps meters in memory
// only: after ovs-vswitchd restarts, set it again before adding flows that use it).
func (c *Client) SetMeter(ctx context.Context, m Meter) error {
	spec, err := m.spec()
	if err != nil {
		return err
	}
	_, err = c.ofctl(ctx, "", "add-meter", c.target, spec)
	var rejected *RejectedError
	if errors.As(err, &rejected) && strings.Contains(rejected.Output, "METER_EXISTS") {
		_, err = c.ofctl(ctx, "", "mod-meter", c.target, spec)
	}
	return err
}

// MeterStats are the counters of one meter.
type MeterStats struct {
	ID        uint32
	Packets   uint64 // packets that reached the meter
	Dropped   uint64 // packets its drop band dropped
	FlowCount uint32 // flows that use it
}

// DumpMeterStats returns the counters of meter id.
func (c *Client) DumpMeterStats(ctx context.Context, id uint32) (MeterStats, error) {
	out, err := c.ofctl(ctx, "", "meter-stats", c.target, fmt.Sprintf("meter=%d", id))
	if err != nil {
		return MeterStats{}, err
	}
	return parseMeterStats(out, id)
}

var (
	meterHeadRE = regexp.MustCompile(`meter:(\d+) flow_count:(\d+) packet_in_count:(\d+)`)
	meterBandRE = regexp.MustCompile(`(?m)^\s*\d+: packet_count:(\d+)`)
)

// parseMeterStats reads `ovs-ofctl meter-stats` output:
//
//	OFPST_METER reply (OF1.5) (xid=0x2):
//	meter:1 flow_count:1 packet_in_count:20 byte_in_count:1100 duration:2.257s bands:
//	0: packet_count:15 byte_count:825
func parseMeterStats(out string, id uint32) (MeterStats, error) {
	head := meterHeadRE.FindStringSubmatch(out)
	if head == nil {
		return MeterStats{}, fmt.Errorf("meter-stats: no meter %d in %q", id, strings.TrimSpace(out))
	}
	got, _ := strconv.ParseUint(head[1], 10, 32)
	if uint32(got) != id {
		return MeterStats{}, fmt.Errorf("meter-stats: asked for meter %d, got meter %d", id, got)
	}
	flowsN, _ := strconv.ParseUint(head[2], 10, 32)
	in, _ := strconv.ParseUint(head[3], 10, 64)
	s := MeterStats{ID: id, Packets: in, FlowCount: uint32(flowsN)}
	for _, b := range meterBandRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseUint(b[1], 10, 64)
		s.Dropped += n
	}
	return s, nil
}
