package droplog

import (
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/time/rate"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

func packetIn(t *testing.T, head, packet string) openflow.PacketIn {
	t.Helper()
	p, err := openflow.ParsePacketIn(head, packet)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// One line per denied packet with the documented fields; over the rate, lines are counted as suppressed, and the
// next line says how many were left out before it. Packet-ins that are not denials are not logged.
func TestLoggerFieldsAndRateLimit(t *testing.T) {
	log, hook := test.NewNullLogger()
	explain := func(p openflow.PacketIn) (Denial, bool) {
		if p.Table != 70 {
			return Denial{}, false
		}
		return Denial{Direction: "ingress", Pod: "x/a", Policies: []string{"x/deny", "x/quiet"}, Proto: p.Proto,
			Src: Endpoint(p, true), Dst: Endpoint(p, false), SrcPod: "x/b"}, true
	}
	l := New("n1", 3, explain, log)
	syn := packetIn(t, "NXT_PACKET_IN (OF1.5) (xid=0x0): table_id=70 cookie=0x5000000000123 total_len=55 reg1=0xa,in_port=10 (via action) data_len=55 (unbuffered)",
		"tcp,vlan_tci=0x0000,dl_src=0a:58:0a:f4:01:03,dl_dst=0a:58:0a:f4:01:02,nw_src=10.244.1.3,nw_dst=10.244.1.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=12345,tp_dst=80,tcp_flags=syn tcp_csum:0")
	l.Handle(syn)
	if len(hook.Entries) != 1 {
		t.Fatalf("%d lines for one packet", len(hook.Entries))
	}
	e := hook.LastEntry()
	want := logrus.Fields{"node": "n1", "direction": "ingress", "pod": "x/a", "policies": "x/deny,x/quiet", "proto": "tcp",
		"src": "10.244.1.3:12345", "dst": "10.244.1.2:80", "srcPod": "x/b", "dstPod": "-", "suppressed": uint64(0)}
	if e.Message != Message || e.Level != logrus.InfoLevel || len(e.Data) != len(want) {
		t.Fatalf("line %q %v %v", e.Message, e.Level, e.Data)
	}
	for k, v := range want {
		if e.Data[k] != v {
			t.Errorf("field %s = %v, want %v", k, e.Data[k], v)
		}
	}

	other := syn
	other.Table = 45
	l.Handle(other)
	if len(hook.Entries) != 1 {
		t.Error("a packet-in that is not a denial was logged")
	}

	// The bucket holds 3: 2 left, then 20 more are suppressed.
	for range 22 {
		l.Handle(syn)
	}
	if len(hook.Entries) != 3 || l.Suppressed() != 20 {
		t.Fatalf("%d lines and %d suppressed after a flood of 22 with 2 tokens left, want 3 and 20", len(hook.Entries), l.Suppressed())
	}
	l.limit = rate.NewLimiter(rate.Inf, 1) // tokens come back, as time would bring them
	l.Handle(syn)
	l.Handle(syn)
	if len(hook.Entries) != 5 || hook.Entries[3].Data["suppressed"] != uint64(20) || hook.Entries[4].Data["suppressed"] != uint64(0) {
		t.Errorf("the lines after the flood: %d lines, suppressed %v then %v; want 20 then 0", len(hook.Entries),
			hook.Entries[3].Data["suppressed"], hook.LastEntry().Data["suppressed"])
	}

	icmp := packetIn(t, "NXT_PACKET_IN (OF1.5) (xid=0x0): table_id=70 cookie=0x1 total_len=98 reg1=0xa,in_port=2 (via action) data_len=98 (unbuffered)",
		"icmp,vlan_tci=0x0000,dl_src=0a:58:0a:f4:01:01,dl_dst=0a:58:0a:f4:01:02,nw_src=10.244.2.2,nw_dst=10.244.1.2,nw_tos=0,nw_ecn=0,nw_ttl=63,nw_frag=no,icmp_type=8,icmp_code=0 icmp_csum:0")
	if Endpoint(icmp, true) != "10.244.2.2" || Endpoint(icmp, false) != "10.244.1.2" {
		t.Errorf("ICMP endpoints %q %q", Endpoint(icmp, true), Endpoint(icmp, false))
	}
	if f := Fields("n1", Denial{}, 0); f["policies"] != "none" || f["srcPod"] != "-" {
		t.Errorf("empty denial fields %v", f)
	}
}
