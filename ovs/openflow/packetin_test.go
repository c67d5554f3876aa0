package openflow

import (
	"reflect"
	"testing"
)

func TestParsePacketIn(t *testing.T) {
	p, err := ParsePacketIn(
		"NXT_PACKET_IN (OF1.5) (xid=0x0): table_id=70 cookie=0x5000000000123 total_len=55 reg1=0xa,in_port=10 (via action) data_len=55 (unbuffered)",
		"tcp,vlan_tci=0x0000,dl_src=0a:58:0a:f4:01:03,dl_dst=0a:58:0a:f4:01:02,nw_src=10.244.1.3,nw_dst=10.244.1.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=12345,tp_dst=80,tcp_flags=syn tcp_csum:0")
	if err != nil {
		t.Fatal(err)
	}
	if p.Table != 70 || p.Cookie != 0x5000000000123 || p.Proto != "tcp" {
		t.Errorf("table %d cookie %#x proto %q", p.Table, p.Cookie, p.Proto)
	}
	if want := map[string]string{"reg1": "0xa", "in_port": "10"}; !reflect.DeepEqual(p.Metadata, want) {
		t.Errorf("metadata %v, want %v", p.Metadata, want)
	}
	for k, v := range map[string]string{"nw_src": "10.244.1.3", "nw_dst": "10.244.1.2", "tp_src": "12345", "tp_dst": "80", "tcp_flags": "syn"} {
		if p.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, p.Fields[k], v)
		}
	}

	// Table 0 has no table_id; ICMP has types, not ports.
	p, err = ParsePacketIn("NXT_PACKET_IN (OF1.5) (xid=0x0): cookie=0x1 total_len=98 in_port=3 (via action) data_len=98 (unbuffered)",
		"icmp,vlan_tci=0x0000,dl_src=0a:58:0a:f4:01:03,dl_dst=0a:58:0a:f4:01:02,nw_src=10.244.1.3,nw_dst=10.244.1.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0 icmp_csum:f7ff")
	if err != nil {
		t.Fatal(err)
	}
	if p.Table != 0 || p.Proto != "icmp" || p.Fields["icmp_type"] != "8" || p.Metadata["in_port"] != "3" {
		t.Errorf("icmp packet-in: %+v", p)
	}

	for _, bad := range [][2]string{
		{"OFPT_ECHO_REQUEST (OF1.5) (xid=0x0): 0 bytes of payload", "tcp"},
		{"NXT_PACKET_IN (OF1.5) (xid=0x0): table_id=300 cookie=0x1", "tcp"},
		{"NXT_PACKET_IN (OF1.5) (xid=0x0): cookie=0xzz", "tcp"},
		{"NXT_PACKET_IN (OF1.5) (xid=0x0): cookie=0x1", ""},
	} {
		if _, err := ParsePacketIn(bad[0], bad[1]); err == nil {
			t.Errorf("ParsePacketIn(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestParseMeterStats(t *testing.T) {
	s, err := parseMeterStats("OFPST_METER reply (OF1.5) (xid=0x2):\nmeter:1 flow_count:2 packet_in_count:20 byte_in_count:1100 duration:2.257s bands:\n0: packet_count:15 byte_count:825\n", 1)
	if err != nil {
		t.Fatal(err)
	}
	if s != (MeterStats{ID: 1, Packets: 20, Dropped: 15, FlowCount: 2}) {
		t.Errorf("%+v", s)
	}
	if _, err := parseMeterStats("OFPST_METER reply (OF1.5) (xid=0x2):\n", 1); err == nil {
		t.Error("no meter in the reply: accepted")
	}
	if _, err := parseMeterStats("meter:2 flow_count:0 packet_in_count:0 byte_in_count:0 duration:1s bands:\n", 1); err == nil {
		t.Error("another meter's stats: accepted")
	}
	if _, err := (Meter{ID: 1}).spec(); err == nil {
		t.Error("a meter with rate 0: accepted")
	}
}
