package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultValidates(t *testing.T) {
	c := Default()
	c.NodeName = "n1"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MTU != 0 {
		t.Errorf("default MTU %d, want 0 (detected)", c.MTU)
	}
}

func TestValidateNamesTheBadOption(t *testing.T) {
	cases := []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.PodCIDR = "10.0.0.0" }, "podCIDR"},
		{func(c *Config) { c.PodCIDR = "fd00::/64" }, "podCIDR"},
		{func(c *Config) { c.PodCIDR = "10.0.0.0/31" }, "podCIDR"},
		{func(c *Config) { c.OVSDBEndpoint = "tcp:1.2.3.4:6640" }, "ovsdbEndpoint"},
		{func(c *Config) { c.Bridge = "br-int-with-a-long-name" }, "bridge"},
		{func(c *Config) { c.GatewayName = "gw 0" }, "gatewayName"},
		{func(c *Config) { c.DatapathType = "dpdk" }, "datapathType"},
		{func(c *Config) { c.TrafficMode = "tunnel" }, "trafficMode"},
		{func(c *Config) { c.TunnelType = "gre" }, "tunnelType"},
		{func(c *Config) { c.MTU = 100 }, "mtu"},
		{func(c *Config) { c.CTZone = 70000 }, "ctZone"},
		{func(c *Config) { c.DeniedLogRate = 0 }, "deniedLogRate"},
		{func(c *Config) { c.DeniedLogRate = 20000 }, "deniedLogRate"},
		{func(c *Config) { c.CNIConfDir = "net.d" }, "cniConfDir"},
		{func(c *Config) { c.APISocket = "agent.sock" }, "apiSocket"},
		{func(c *Config) { c.CNIConfName = "10-switchyard.conf" }, "cniConfName"},
		{func(c *Config) { c.NetworkName = "" }, "networkName"},
		{func(c *Config) { c.LogFormat = "xml" }, "logFormat"},
		{func(c *Config) { c.TransportInterface = "eth0 " }, "transportInterface"},
		{func(c *Config) { c.PhysicalBridge = "" }, "physicalBridge"},
		{func(c *Config) { c.TunnelName = "br-int" }, "tunnelName"},
		{func(c *Config) { c.PhysicalBridge = "br-int" }, "physicalBridge"},
		{func(c *Config) { c.RemoteAPIPort = 70000 }, "remoteAPIPort"},
	}
	for _, tc := range cases {
		c := Default()
		c.NodeName = "n1"
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("bridge: br-test\ndatapathType: netdev\nmtu: 1400\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Bridge != "br-test" || c.DatapathType != DatapathNetdev || c.MTU != 1400 || c.GatewayName != "switchyard-gw0" {
		t.Errorf("loaded %+v", c)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("brdige: br-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "brdige") {
		t.Errorf("a misspelt key must be an error naming it, got %v", err)
	}
}

func TestPodMTU(t *testing.T) {
	cases := []struct {
		mode      string
		mtu       int
		transport int
		ipv6      bool
		want      int
	}{
		{ModeEncap, 0, 1500, false, 1450},
		{ModeHybrid, 0, 1500, false, 1450},
		{ModeEncap, 0, 9000, true, 8930},
		{ModeNoEncap, 0, 1500, false, 1500},
		{ModeEncap, 1400, 1500, false, 1400},
	}
	for _, tc := range cases {
		c := Default()
		c.TrafficMode, c.MTU = tc.mode, tc.mtu
		if got := c.PodMTU(tc.transport, tc.ipv6); got != tc.want {
			t.Errorf("mode %s mtu %d transport %d ipv6 %v: PodMTU %d, want %d", tc.mode, tc.mtu, tc.transport, tc.ipv6, got, tc.want)
		}
	}
}

func TestLoadNewKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("transportInterface: eth1\nnoSNAT: true\ntrafficMode: hybrid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c.NodeName = "n1"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TransportInterface != "eth1" || !c.NoSNAT || c.TrafficMode != ModeHybrid || c.PhysicalBridge != "br-phy" {
		t.Errorf("loaded %+v", c)
	}
}
