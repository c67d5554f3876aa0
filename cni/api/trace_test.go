package api

import (
	"net/url"
	"strings"
	"testing"
)

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseTraceRequest(t *testing.T) {
	q := func(s string) (TraceRequest, error) {
		r, err := ParseTraceRequest(mustQuery(t, s))
		return r, err
	}
	if r, err := q("src=10.0.0.1&dst=10.0.0.2&dport=80"); err != nil || r.Proto != "tcp" || r.DPort != 80 {
		t.Errorf("default proto with a port: %+v %v", r, err)
	}
	if r, err := q("src=10.0.0.1&dst=10.0.0.2"); err != nil || r.Proto != "icmp" {
		t.Errorf("default proto without a port: %+v %v", r, err)
	}
	if r, err := q("src=10.0.0.1&dst=10.0.0.2&tun_src=192.168.77.11"); err != nil || r.InPort != InPortTunnel {
		t.Errorf("tun_src implies the tunnel: %+v %v", r, err)
	}
	for _, bad := range []string{"src=x&dst=10.0.0.2", "src=10.0.0.1&dst=10.0.0.2&proto=tcp", "src=10.0.0.1&dst=10.0.0.2&proto=sctp&dport=1",
		"src=10.0.0.1&dst=10.0.0.2&dport=0", "src=10.0.0.1&dst=10.0.0.2&in_port=tunnel", "src=10.0.0.1&dst=10.0.0.2&in_port=eth0"} {
		if _, err := q(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
	r := TraceRequest{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: "udp", DPort: 53, InPort: "tunnel", TunSrc: "192.168.77.11"}
	back, err := q(strings.TrimPrefix(r.Query(), PathTrace+"?"))
	if err != nil || back != r {
		t.Errorf("Query round trip: %+v %v, want %+v", back, err, r)
	}
}

func TestParseTraceRequestEndpoint(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		ok       bool
	}{{"10.244.1.2", true}, {"10.244.1.2:8080", true}, {"10.244.1.2:0", false}, {"x/b", false}, {"fd00::1", false}, {"10.244.1.2:http", false}} {
		v := url.Values{"src": {"10.244.0.2"}, "dst": {"10.96.0.10"}, "dport": {"80"}, "endpoint": {c.endpoint}}
		r, err := ParseTraceRequest(v)
		if (err == nil) != c.ok || c.ok && r.Endpoint != c.endpoint {
			t.Errorf("endpoint %q: %+v %v", c.endpoint, r, err)
		}
		if c.ok {
			if back, err := url.ParseQuery(strings.TrimPrefix(r.Query(), PathTrace+"?")); err != nil || back.Get("endpoint") != c.endpoint {
				t.Errorf("endpoint %q does not survive Query: %v", c.endpoint, back)
			}
		}
	}
}
