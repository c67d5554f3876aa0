package openflow

import (
	"testing"
)

func TestParseConntrack(t *testing.T) {
	out := `tcp,orig=(src=10.244.0.5,dst=10.96.158.53,sport=51234,dport=80),reply=(src=10.244.1.4,dst=10.244.0.5,sport=8080,dport=51234),zone=65520,mark=1,protoinfo=(state=TIME_WAIT)
icmp,orig=(src=10.244.0.5,dst=10.244.1.4,id=7,type=8,code=0),reply=(src=10.244.1.4,dst=10.244.0.5,id=7,type=0,code=0),zone=65520
udp,orig=(src=10.244.0.5,dst=10.96.0.10,sport=40000,dport=53),reply=(src=10.244.1.2,dst=10.244.0.5,sport=5353,dport=40000),zone=65520
tcp,orig=(src=fd00::1,dst=fd00::2,sport=1,dport=2),reply=(src=fd00::2,dst=fd00::1,sport=2,dport=1),zone=65520
`
	got := parseConntrack(out)
	if len(got) != 2 {
		t.Fatalf("%d entries, want the TCP and UDP IPv4 ones: %+v", len(got), got)
	}
	e := got[0]
	if e.Proto != "tcp" || e.OrigSrc.String() != "10.244.0.5" || e.OrigDst.String() != "10.96.158.53" || e.OrigSport != 51234 ||
		e.OrigDport != 80 || e.ReplySrc.String() != "10.244.1.4" || e.ReplySport != 8080 {
		t.Errorf("tcp entry: %+v", e)
	}
	if got[1].Proto != "udp" || got[1].ReplySrc.String() != "10.244.1.2" || got[1].ReplySport != 5353 {
		t.Errorf("udp entry: %+v", got[1])
	}
}
