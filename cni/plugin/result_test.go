package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/switchyard-net/switchyard/cni/api"
	"github.com/switchyard-net/switchyard/cni/config"
)

var testEnv = &config.Env{ContainerID: "c1", Netns: "/var/run/netns/p1", IfName: "eth0"}

func testAttachment() api.Attachment {
	return api.Attachment{HostIfName: "sy-c1", HostMAC: "0a:00:00:00:00:01", PodIfName: "eth0", PodMAC: "0a:00:00:00:00:02",
		Netns: "/var/run/netns/p1", IPCIDR: "10.244.1.5/24", Gateway: "10.244.1.1", MTU: 1450}
}

func wantErr(t *testing.T, err error, code uint, names string) {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != code || !strings.Contains(cniErr.Msg, names) {
		t.Fatalf("error %v, want code %d naming %q", err, code, names)
	}
}

func TestNewResultIPv6DefaultRoute(t *testing.T) {
	att := testAttachment()
	att.IPCIDR, att.Gateway = "fd00:10:244:1::5/64", "fd00:10:244:1::1"
	r, err := newResult(&att, testEnv)
	if err != nil {
		t.Fatalf("newResult: %v", err)
	}
	if got := r.Routes[0].Dst.String(); got != "::/0" {
		t.Fatalf("default route %s, want ::/0", got)
	}
	if r.IPs[0].Address.String() != "fd00:10:244:1::5/64" || *r.IPs[0].Interface != podIfIndex {
		t.Fatalf("ip config %+v", r.IPs[0])
	}
}

func TestNewResultRejectsBadAgentData(t *testing.T) {
	cases := []struct {
		field  string
		mutate func(*api.Attachment)
	}{
		{"hostIfName", func(a *api.Attachment) { a.HostIfName = "" }},
		{"podIfName", func(a *api.Attachment) { a.PodIfName = "eth1" }},
		{"hostMAC", func(a *api.Attachment) { a.HostMAC = "zz" }},
		{"podMAC", func(a *api.Attachment) { a.PodMAC = "" }},
		{"ipCIDR", func(a *api.Attachment) { a.IPCIDR = "10.244.1.5" }},
		{"gateway", func(a *api.Attachment) { a.Gateway = "gw" }},
		{"gateway", func(a *api.Attachment) { a.Gateway = "10.244.2.1" }},
		{"gateway", func(a *api.Attachment) { a.Gateway = "10.244.1.5" }},
		{"mtu", func(a *api.Attachment) { a.MTU = -1 }},
	}
	for _, tc := range cases {
		att := testAttachment()
		tc.mutate(&att)
		_, err := newResult(&att, testEnv)
		wantErr(t, err, types.ErrInternal, "invalid "+tc.field)
	}
}

func TestCompareWithPrevResult(t *testing.T) {
	good := testAttachment()
	prevOf := func(t *testing.T) *types100.Result {
		r, err := newResult(&good, testEnv)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := compareWithPrevResult(prevOf(t), &good, testEnv); err != nil {
		t.Fatalf("identical attachment: %v", err)
	}

	cases := []struct {
		name   string
		prev   func(*types100.Result)
		agent  func(*api.Attachment)
		env    *config.Env
		naming string
	}{
		{name: "no pod interface", prev: func(r *types100.Result) { r.Interfaces[podIfIndex].Name = "net1" }, naming: `no interface "eth0"`},
		{name: "sandbox", env: &config.Env{ContainerID: "c1", Netns: "/var/run/netns/other", IfName: "eth0"}, naming: "sandbox"},
		{name: "pod MAC", agent: func(a *api.Attachment) { a.PodMAC = "0a:00:00:00:00:09" }, naming: "pod interface MAC"},
		{name: "host name", agent: func(a *api.Attachment) { a.HostIfName = "sy-other" }, naming: "host interface name"},
		{name: "host MAC", prev: func(r *types100.Result) { r.Interfaces[hostIfIndex].Mac = "0a:00:00:00:00:07" }, naming: "host interface MAC"},
		{name: "pod IP", agent: func(a *api.Attachment) { a.IPCIDR = "10.244.1.7/24" }, naming: "pod IP"},
		{name: "prefix", agent: func(a *api.Attachment) { a.IPCIDR = "10.244.1.5/16" }, naming: "pod IP"},
		{name: "gateway", agent: func(a *api.Attachment) { a.Gateway = "10.244.1.254" }, naming: "pod gateway"},
		{name: "IP on other interface", prev: func(r *types100.Result) { zero := hostIfIndex; r.IPs[0].Interface = &zero }, naming: "pod IP differs: prevResult has none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev, att, env := prevOf(t), good, testEnv
			if tc.prev != nil {
				tc.prev(prev)
			}
			if tc.agent != nil {
				tc.agent(&att)
			}
			if tc.env != nil {
				env = tc.env
			}
			wantErr(t, compareWithPrevResult(prev, &att, env), types.ErrInternal, tc.naming)
		})
	}
}
