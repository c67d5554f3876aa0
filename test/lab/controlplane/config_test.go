package controlplane

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeBinDir makes a BinDir whose "binaries" are links to this test binary, which acts as a sleeping process
// when fakeSleepEnv is set (see TestHelperSleep): enough for validation and process handling.
func fakeBinDir(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range components {
		if err := os.Symlink(self, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConfigValidation(t *testing.T) {
	bin := fakeBinDir(t)
	good := Config{Dir: "rel/dir", BinDir: bin, AdvertiseIP: "127.0.0.1", ServiceCIDR: "10.96.0.0/16",
		ClusterCIDR: "10.244.0.0/16"}
	cfg, err := good.withDefaults()
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if !filepath.IsAbs(cfg.Dir) || cfg.SecurePort != 6443 || cfg.NodeCIDRMaskSize != 24 || cfg.EtcdClientPort != 2379 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	for field, mutate := range map[string]func(*Config){
		"Dir":              func(c *Config) { c.Dir = "" },
		"AdvertiseIP":      func(c *Config) { c.AdvertiseIP = "fd00::1" },
		"ServiceCIDR":      func(c *Config) { c.ServiceCIDR = "10.96.0.0" },
		"ClusterCIDR":      func(c *Config) { c.ClusterCIDR = "nope" },
		"NodeCIDRMaskSize": func(c *Config) { c.NodeCIDRMaskSize = 8 },
		"Netns":            func(c *Config) { c.Netns = "swy-no-such-netns" },
		"BinDir":           func(c *Config) { c.BinDir = t.TempDir() },
	} {
		c := good
		mutate(&c)
		if _, err := c.withDefaults(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("bad %s: error %v, want one naming %s", field, err, field)
		}
	}
}

func TestFirstServiceIP(t *testing.T) {
	ip, err := firstServiceIP("10.96.0.0/16")
	if err != nil || ip.String() != "10.96.0.1" {
		t.Errorf("firstServiceIP(10.96.0.0/16) = %v, %v; want 10.96.0.1", ip, err)
	}
}

func TestLoopbackAdvertiseDisablesEndpointReconciler(t *testing.T) {
	base := Config{Dir: "/d", SecurePort: 6443, ServiceCIDR: "10.96.0.0/16", EtcdClientPort: 2379}
	loop, routed := base, base
	loop.AdvertiseIP, routed.AdvertiseIP = "127.0.0.1", "10.123.0.1"
	if !slices.Contains(apiserverArgs(loop), "--endpoint-reconciler-type=none") {
		t.Error("loopback AdvertiseIP: no --endpoint-reconciler-type=none")
	}
	if slices.Contains(apiserverArgs(routed), "--endpoint-reconciler-type=none") {
		t.Error("routed AdvertiseIP: --endpoint-reconciler-type=none set")
	}
}

func TestKubeconfigName(t *testing.T) {
	got, err := kubeconfigName("system:node:a", "https://127.0.0.1:16443")
	if err != nil || got != "system_node_a-127.0.0.1-16443" {
		t.Errorf("kubeconfigName = %q, %v", got, err)
	}
	if _, err := kubeconfigName("admin", "http://x:1"); err == nil {
		t.Error("kubeconfigName accepted an http URL")
	}
}
