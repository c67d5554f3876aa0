package flows

import (
	"net"
	"strings"
	"testing"
)

func TestNodeConfigValidate(t *testing.T) {
	if err := testNode.Validate(); err != nil {
		t.Fatalf("valid node config: %v", err)
	}
	bad := testNode
	bad.GatewayOFPort = 0
	bad.GatewayMAC = mustMAC("01:00:5e:00:00:01")
	bad.GatewayIP = net.ParseIP("10.9.9.1")
	err := bad.Validate()
	for _, want := range []string{"gateway OpenFlow port 0", "gateway MAC", "gateway IP 10.9.9.1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid node config: error %v does not mention %q", err, want)
		}
	}
	bad = testNode
	bad.PodCIDR = nil
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "pod CIDR") {
		t.Errorf("node config without pod CIDR: %v", err)
	}
}

func TestNodeConfigValidatePod(t *testing.T) {
	if err := testNode.ValidatePod(testPod1); err != nil {
		t.Fatalf("valid pod: %v", err)
	}
	cases := []struct {
		name string
		pod  PodSpec
		want string
	}{
		{"gateway port", PodSpec{OFPort: 2, MAC: testPod1.MAC, IP: testPod1.IP}, "is the gateway's port"},
		{"reserved port", PodSpec{OFPort: 0xfffffffe, MAC: testPod1.MAC, IP: testPod1.IP}, "not a valid port number"},
		{"gateway MAC", PodSpec{OFPort: 10, MAC: testNode.GatewayMAC, IP: testPod1.IP}, "is the gateway's MAC"},
		{"no MAC", PodSpec{OFPort: 10, IP: testPod1.IP}, "not a unicast Ethernet address"},
		{"gateway IP", PodSpec{OFPort: 10, MAC: testPod1.MAC, IP: testNode.GatewayIP}, "is the gateway's IP"},
		{"IP outside the pod CIDR", PodSpec{OFPort: 10, MAC: testPod1.MAC, IP: net.ParseIP("10.244.2.5")}, "not an IPv4 address inside pod CIDR"},
		{"IPv6", PodSpec{OFPort: 10, MAC: testPod1.MAC, IP: net.ParseIP("fd00::5")}, "not an IPv4 address"},
	}
	for _, c := range cases {
		if err := testNode.ValidatePod(c.pod); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v does not mention %q", c.name, err, c.want)
		}
	}
}

func TestNodeConfigValidatePeer(t *testing.T) {
	for _, p := range []PeerSpec{testPeerTunnel, testPeerDirect} {
		if err := testNode.ValidatePeer(p); err != nil {
			t.Errorf("valid peer %+v: %v", p, err)
		}
	}
	bad := PeerSpec{Tunnel: true, PodCIDRs: []*net.IPNet{mustCIDR("10.244.0.0/16"), mustCIDR("fd00::/64")}}
	err := testNode.ValidatePeer(bad)
	for _, want := range []string{"overlaps this node's pod CIDR 10.244.1.0/24", "fd00::/64 is not an IPv4 subnet",
		"transport address <nil>", "tunnel OpenFlow port 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid peer: error %v does not mention %q", err, want)
		}
	}
	if err := testNode.ValidatePeer(PeerSpec{}); err == nil || !strings.Contains(err.Error(), "no pod CIDR") {
		t.Errorf("peer without pod CIDR: %v", err)
	}
}

func TestPeerGatewayIP(t *testing.T) {
	if got := PeerGatewayIP(mustCIDR("10.244.7.0/24")).String(); got != "10.244.7.1" {
		t.Errorf("PeerGatewayIP = %s, want 10.244.7.1", got)
	}
}
