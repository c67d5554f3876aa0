package podnet

import (
	"net"
	"strings"
	"testing"
)

func TestHostVethName(t *testing.T) {
	got := HostVethName("0123456789abcdef", "eth0")
	// sha256("0123456789abcdef/eth0") starts with 60373cf9024d.
	if got != "sy60373cf9024d" {
		t.Fatalf("HostVethName = %q, want sy60373cf9024d", got)
	}
	if again := HostVethName("0123456789abcdef", "eth0"); again != got {
		t.Fatalf("HostVethName not deterministic: %q then %q", got, again)
	}
	// Interface names cannot contain "/", so the hashed string is unambiguous.
	long := strings.Repeat("f", 64)
	seen := map[string]bool{}
	for _, in := range [][2]string{{long, "eth0"}, {long, "net1"}, {long + "0", "eth0"}, {"a/b", "c"}, {"a", "bc"}} {
		name := HostVethName(in[0], in[1])
		if err := validIfName(name); err != nil {
			t.Errorf("HostVethName(%q, %q) = %q: %v", in[0], in[1], name, err)
		}
		if len(name) != 14 {
			t.Errorf("HostVethName(%q, %q) = %q, want 14 characters", in[0], in[1], name)
		}
		if seen[name] {
			t.Errorf("HostVethName(%q, %q) = %q collides with an earlier input", in[0], in[1], name)
		}
		seen[name] = true
	}
}

func TestPodMAC(t *testing.T) {
	for _, tc := range []struct {
		ip   net.IP
		want string
	}{
		{net.ParseIP("10.244.1.5"), "0a:58:0a:f4:01:05"},           // 16-byte form
		{net.ParseIP("10.244.1.5").To4(), "0a:58:0a:f4:01:05"},     // 4-byte form
		{net.ParseIP("192.168.255.254"), "0a:58:c0:a8:ff:fe"},      //
		{net.ParseIP("fd00::a:b0c:d0e"), "0a:58:0b:0c:0d:0e"},      // IPv6: last 4 bytes
		{net.ParseIP("fd00::1:2:3:4").To16(), "0a:58:00:03:00:04"}, //
	} {
		got := PodMAC(tc.ip)
		if got.String() != tc.want {
			t.Errorf("PodMAC(%v) = %v, want %s", tc.ip, got, tc.want)
		}
		if got[0]&0x02 == 0 || got[0]&0x01 != 0 {
			t.Errorf("PodMAC(%v) = %v is not a locally administered unicast MAC", tc.ip, got)
		}
	}
	if got := PodMAC(net.IP{1, 2, 3}); got != nil {
		t.Errorf("PodMAC of a 3-byte IP = %v, want nil", got)
	}
}

func TestValidIfName(t *testing.T) {
	for _, ok := range []string{"eth0", "sy60373cf9024d", "a", "fifteen-chars15"} {
		if err := validIfName(ok); err != nil {
			t.Errorf("validIfName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "sixteen-chars-16", "a/b", "a:b", "a b", "a\tb"} {
		if err := validIfName(bad); err == nil {
			t.Errorf("validIfName(%q) accepted it", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig("c1")
	if err := good.validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"bad ifname":       func(c *Config) { c.IfName = "" },
		"long host name":   func(c *Config) { c.HostIfName = "a-very-long-name" },
		"nil IP":           func(c *Config) { c.IP = nil },
		"IPv6 IP":          func(c *Config) { c.IP = &net.IPNet{IP: net.ParseIP("fd00::5"), Mask: net.CIDRMask(64, 128)} },
		"nil gateway":      func(c *Config) { c.Gateway = nil },
		"gateway is pod":   func(c *Config) { c.Gateway = c.IP.IP },
		"multicast MAC":    func(c *Config) { c.MAC = net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1} },
		"short MAC":        func(c *Config) { c.MAC = c.MAC[:4] },
		"MTU not set":      func(c *Config) { c.MTU = 0 },
		"MTU too large":    func(c *Config) { c.MTU = 70000 },
		"host prefix only": func(c *Config) { c.IP = &net.IPNet{IP: c.IP.IP, Mask: net.CIDRMask(0, 32)} },
	} {
		c := testConfig("c1")
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: config accepted", name)
		}
	}
}

// testConfig is a valid Config for a pod at 10.244.1.5/24.
func testConfig(containerID string) Config {
	ip := net.ParseIP("10.244.1.5").To4()
	return Config{
		ContainerID:   containerID,
		IfName:        "eth0",
		HostIfName:    HostVethName(containerID, "eth0"),
		IP:            &net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)},
		Gateway:       net.ParseIP("10.244.1.1").To4(),
		MAC:           PodMAC(ip),
		MTU:           1450,
		TxChecksumOff: true,
	}
}
