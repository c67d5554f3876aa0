package openflow

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// PacketIn is a packet that a flow sent to the controller (the controller action), as `ovs-ofctl monitor` prints
// it: the table and cookie of the flow, the packet's metadata (in_port, registers) and its header fields.
type PacketIn struct {
	Table    uint8
	Cookie   uint64
	Metadata map[string]string // in_port, reg1, ... as printed (in_port=10, reg1=0xa)
	Proto    string            // the packet's kind as ovs-ofctl names it: tcp, udp, icmp, sctp, ip, arp...
	Fields   map[string]string // nw_src, nw_dst, tp_src, tp_dst, icmp_type, ...
}

// packetInPrefix starts the first line of a packet-in in `ovs-ofctl monitor -P nxt_packet_in` output.
const packetInPrefix = "NXT_PACKET_IN"

// monitorMissLen is the miss_send_len the monitor sets on its connection: OVS sends no asynchronous messages
// (packet-ins included) to a service connection whose miss_send_len is 0, the default.
const monitorMissLen = 128

// MonitorPacketIns connects to the bridge with `ovs-ofctl monitor` and calls handle for every packet-in until ctx
// ends (nil) or the connection ends (an error: ovs-vswitchd went away; call it again). The connection is a
// service connection on the bridge's management socket, so the bridge needs no controller configured; it
// receives the packets of controller actions.
func (c *Client) MonitorPacketIns(ctx context.Context, handle func(PacketIn)) error {
	cmd := exec.CommandContext(ctx, "ovs-ofctl", "-O", "OpenFlow15", "--no-names", "monitor", c.target,
		strconv.Itoa(monitorMissLen), "-P", "nxt_packet_in")
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+c.runDir)
	// A monitor outliving a killed agent would hold a connection until its next write fails.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// ovs-ofctl monitor prints the messages it receives on stderr (unbuffered), and its own errors there too.
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return &CommandError{Command: "ovs-ofctl monitor", Err: err}
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var head string
	var other []string // the last lines that are not packet-ins: the error, if it exits
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, packetInPrefix):
			head = line
		case head != "":
			if p, err := ParsePacketIn(head, line); err == nil {
				handle(p)
			}
			head = ""
		default:
			other = append(other[max(0, len(other)-4):], line)
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("exited")
	}
	return c.classify("ovs-ofctl monitor", "", strings.Join(other, "\n"), err)
}

// ParsePacketIn parses the two lines `ovs-ofctl monitor -P nxt_packet_in` prints for a packet-in:
//
//	NXT_PACKET_IN (OF1.5) (xid=0x0): table_id=70 cookie=0x5000000000123 total_len=55 reg1=0xa,in_port=10 (via action) data_len=55 (unbuffered)
//	tcp,vlan_tci=0x0000,dl_src=0a:58:0a:f4:01:03,...,nw_src=10.244.1.3,nw_dst=10.244.1.2,...,tp_src=12345,tp_dst=80,tcp_flags=syn tcp_csum:0
//
// (table_id is left out for table 0.)
func ParsePacketIn(head, packet string) (PacketIn, error) {
	_, rest, ok := strings.Cut(head, "): ")
	if !strings.HasPrefix(head, packetInPrefix) || !ok {
		return PacketIn{}, fmt.Errorf("not a packet-in: %q", head)
	}
	p := PacketIn{Metadata: map[string]string{}, Fields: map[string]string{}}
	for _, tok := range strings.Fields(rest) {
		for _, kv := range strings.Split(tok, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			switch k {
			case "table_id":
				t, err := strconv.ParseUint(v, 10, 8)
				if err != nil {
					return PacketIn{}, fmt.Errorf("packet-in table_id %q: %w", v, err)
				}
				p.Table = uint8(t)
			case "cookie":
				ck, err := strconv.ParseUint(v, 0, 64)
				if err != nil {
					return PacketIn{}, fmt.Errorf("packet-in cookie %q: %w", v, err)
				}
				p.Cookie = ck
			case "total_len", "data_len", "buffer":
			default:
				p.Metadata[k] = v
			}
		}
	}
	desc, _, _ := strings.Cut(strings.TrimSpace(packet), " ")
	for i, kv := range strings.Split(desc, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if i == 0 {
				p.Proto = k
			}
			continue
		}
		p.Fields[k] = v
	}
	if p.Proto == "" {
		return PacketIn{}, fmt.Errorf("packet-in without a packet description: %q", packet)
	}
	return p, nil
}
