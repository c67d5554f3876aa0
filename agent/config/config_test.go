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
	if c.MTU != 1450 {
		t.Errorf("default MTU %d, want 1450", c.MTU)
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
		{func(c *Config) { c.CNIConfDir = "net.d" }, "cniConfDir"},
		{func(c *Config) { c.APISocket = "agent.sock" }, "apiSocket"},
		{func(c *Config) { c.CNIConfName = "10-switchyard.conf" }, "cniConfName"},
		{func(c *Config) { c.NetworkName = "" }, "networkName"},
		{func(c *Config) { c.LogFormat = "xml" }, "logFormat"},
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
