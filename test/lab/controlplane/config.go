package controlplane

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Config says where the control plane keeps its state, where its binaries are and how its network looks.
type Config struct {
	// Dir holds all state: certificates, tokens, etcd data, logs, pidfiles, kubeconfigs. Made absolute by Start.
	Dir string `json:"dir"`
	// BinDir is where test/controlplane/build.sh put the binaries.
	BinDir string `json:"binDir"`
	// Netns is the network namespace every process runs in: a name under /run/netns or an absolute path.
	// Empty means the caller's network namespace.
	Netns string `json:"netns,omitempty"`
	// AdvertiseIP is the address the apiserver binds to and advertises; it must exist inside Netns.
	AdvertiseIP string `json:"advertiseIP"`
	// SecurePort is the apiserver's port (default 6443).
	SecurePort int `json:"securePort"`
	// ServiceCIDR is the Service ClusterIP range, e.g. 10.96.0.0/16.
	ServiceCIDR string `json:"serviceCIDR"`
	// ClusterCIDR is the range kube-controller-manager allocates node pod CIDRs from, e.g. 10.244.0.0/16.
	ClusterCIDR string `json:"clusterCIDR"`
	// NodeCIDRMaskSize is the prefix length of each node's pod CIDR (default 24).
	NodeCIDRMaskSize int `json:"nodeCIDRMaskSize"`
	// EtcdClientPort and EtcdPeerPort are etcd's loopback ports inside Netns (defaults 2379 and 2380).
	EtcdClientPort int `json:"etcdClientPort"`
	EtcdPeerPort   int `json:"etcdPeerPort"`

	// Logf receives progress and timing messages; nil discards them.
	Logf func(format string, args ...any) `json:"-"`
}

// withDefaults returns c with defaults filled in and Dir and BinDir made absolute, or an error naming the first
// invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.SecurePort == 0 {
		c.SecurePort = 6443
	}
	if c.NodeCIDRMaskSize == 0 {
		c.NodeCIDRMaskSize = 24
	}
	if c.EtcdClientPort == 0 {
		c.EtcdClientPort = 2379
	}
	if c.EtcdPeerPort == 0 {
		c.EtcdPeerPort = 2380
	}
	if c.Dir == "" {
		return c, fmt.Errorf("controlplane config: Dir is required")
	}
	if c.BinDir == "" {
		return c, fmt.Errorf("controlplane config: BinDir is required")
	}
	var err error
	if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return c, fmt.Errorf("controlplane config: Dir %q: %w", c.Dir, err)
	}
	if c.BinDir, err = filepath.Abs(c.BinDir); err != nil {
		return c, fmt.Errorf("controlplane config: BinDir %q: %w", c.BinDir, err)
	}
	for _, name := range components {
		if _, err := os.Stat(filepath.Join(c.BinDir, name)); err != nil {
			return c, fmt.Errorf("controlplane config: BinDir %s has no %s (run test/controlplane/build.sh): %w",
				c.BinDir, name, err)
		}
	}
	if ip := net.ParseIP(c.AdvertiseIP); ip == nil || ip.To4() == nil {
		return c, fmt.Errorf("controlplane config: AdvertiseIP %q is not an IPv4 address", c.AdvertiseIP)
	}
	if _, err := firstServiceIP(c.ServiceCIDR); err != nil {
		return c, fmt.Errorf("controlplane config: ServiceCIDR: %w", err)
	}
	_, cluster, err := net.ParseCIDR(c.ClusterCIDR)
	if err != nil || cluster.IP.To4() == nil {
		return c, fmt.Errorf("controlplane config: ClusterCIDR %q is not an IPv4 CIDR", c.ClusterCIDR)
	}
	if ones, _ := cluster.Mask.Size(); c.NodeCIDRMaskSize < ones || c.NodeCIDRMaskSize > 30 {
		return c, fmt.Errorf("controlplane config: NodeCIDRMaskSize %d must be between %d (ClusterCIDR's) and 30",
			c.NodeCIDRMaskSize, ones)
	}
	for name, port := range map[string]int{"SecurePort": c.SecurePort, "EtcdClientPort": c.EtcdClientPort,
		"EtcdPeerPort": c.EtcdPeerPort} {
		if port < 1 || port > 65535 {
			return c, fmt.Errorf("controlplane config: %s %d is not a port", name, port)
		}
	}
	if c.Netns != "" {
		if _, err := os.Stat(c.netnsPath()); err != nil {
			return c, fmt.Errorf("controlplane config: Netns %q: %w", c.Netns, err)
		}
	}
	return c, nil
}

// netnsPath is the path of Netns ("" when the control plane runs in the caller's namespace).
func (c Config) netnsPath() string {
	if c.Netns == "" || strings.HasPrefix(c.Netns, "/") {
		return c.Netns
	}
	return filepath.Join("/run/netns", c.Netns)
}

// advertiseIsLoopback reports whether AdvertiseIP is a loopback address (the apiserver cannot then publish it as
// the endpoint of the kubernetes Service).
func (c Config) advertiseIsLoopback() bool {
	ip := net.ParseIP(c.AdvertiseIP)
	return ip != nil && ip.IsLoopback()
}

// logf sends a progress message to Logf, if set.
func (c Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// firstServiceIP returns the first usable address of an IPv4 service CIDR: the ClusterIP of the kubernetes
// Service, which the apiserver's certificate must name.
func firstServiceIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return nil, fmt.Errorf("%q is not an IPv4 CIDR", cidr)
	}
	if ones, _ := n.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("%q is too small for Services", cidr)
	}
	ip := make(net.IP, 4)
	copy(ip, n.IP.To4())
	ip[3]++
	return ip, nil
}
