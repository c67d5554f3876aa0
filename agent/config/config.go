// Package config is the switchyard-agent's configuration: a YAML file, overridden by flags, validated once at
// start with errors that name the bad option.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"

	"sigs.k8s.io/yaml"
)

// Datapath types of the OVS bridge.
const (
	DatapathSystem = "system" // the kernel module (real nodes)
	DatapathNetdev = "netdev" // OVS's userspace datapath (tests, the lab, nodes without the module)
)

// Traffic modes between nodes.
const (
	ModeEncap   = "encap"
	ModeNoEncap = "noEncap"
	ModeHybrid  = "hybrid"
)

// Config is everything the agent reads at start. Field names are the YAML keys.
type Config struct {
	// NodeName is the Kubernetes Node this agent serves (default: $NODE_NAME, then the hostname).
	NodeName string `json:"nodeName"`
	// Kubeconfig is used to reach the API server; empty means in-cluster config. Ignored when PodCIDR is set
	// and no Kubernetes features are needed (standalone use).
	Kubeconfig string `json:"kubeconfig"`
	// PodCIDR overrides the Node's spec.podCIDR (standalone use and tests).
	PodCIDR string `json:"podCIDR"`

	// OVSDBEndpoint is the ovsdb-server socket, "unix:/path".
	OVSDBEndpoint string `json:"ovsdbEndpoint"`
	// OVSRunDir is ovs-vswitchd's run directory: bridges' .mgmt sockets and ovs-vswitchd.<pid>.ctl live there.
	OVSRunDir string `json:"ovsRunDir"`
	// VswitchdCtl is ovs-vswitchd's unixctl socket; empty means found in OVSRunDir.
	VswitchdCtl string `json:"vswitchdCtl"`
	// Bridge is the integration bridge.
	Bridge string `json:"bridge"`
	// DatapathType is "system" or "netdev".
	DatapathType string `json:"datapathType"`
	// GatewayName is the internal port that connects br-int to the node's host stack.
	GatewayName string `json:"gatewayName"`
	// MTU of pods and the gateway; 0 means the default for the mode.
	MTU int `json:"mtu"`
	// TrafficMode is encap, noEncap or hybrid.
	TrafficMode string `json:"trafficMode"`
	// TunnelType is geneve or vxlan (encap and hybrid modes).
	TunnelType string `json:"tunnelType"`
	// CTZone is the conntrack zone of the pipeline.
	CTZone int `json:"ctZone"`

	// CNIConfDir receives the conflist; CNIConfName is its file name; NetworkName is the conflist's name.
	CNIConfDir  string `json:"cniConfDir"`
	CNIConfName string `json:"cniConfName"`
	NetworkName string `json:"networkName"`

	// APISocket is the agent's local API (root-only unix socket) used by the CNI plugin and yardctl.
	APISocket string `json:"apiSocket"`
	// StateDir keeps IPAM allocations across restarts.
	StateDir string `json:"stateDir"`

	// LogFormat is text or json; LogLevel a logrus level.
	LogFormat string `json:"logFormat"`
	LogLevel  string `json:"logLevel"`
}

// Default returns the configuration of a production node.
func Default() Config {
	return Config{
		OVSDBEndpoint: "unix:/var/run/openvswitch/db.sock",
		OVSRunDir:     "/var/run/openvswitch",
		Bridge:        "br-int",
		DatapathType:  DatapathSystem,
		GatewayName:   "switchyard-gw0",
		TrafficMode:   ModeEncap,
		TunnelType:    "geneve",
		CTZone:        65520,
		CNIConfDir:    "/etc/cni/net.d",
		CNIConfName:   "10-switchyard.conflist",
		NetworkName:   "switchyard",
		APISocket:     "/var/run/switchyard/agent.sock",
		StateDir:      "/var/lib/switchyard",
		LogFormat:     "text",
		LogLevel:      "info",
	}
}

// Load reads a YAML file over the defaults. Unknown keys are an error (a typo must not be ignored).
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

var ifNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

// Validate checks every option and fills in derived defaults.
func (c *Config) Validate() error {
	if c.NodeName == "" {
		c.NodeName = os.Getenv("NODE_NAME")
	}
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("config: nodeName is empty and the hostname is unknown: %v", err)
		}
		c.NodeName = h
	}
	if c.PodCIDR != "" {
		ip, n, err := net.ParseCIDR(c.PodCIDR)
		if err != nil || ip.To4() == nil {
			return fmt.Errorf("config: podCIDR %q is not an IPv4 CIDR", c.PodCIDR)
		}
		if ones, _ := n.Mask.Size(); ones > 30 {
			return fmt.Errorf("config: podCIDR %q is too small (need at least a /30)", c.PodCIDR)
		}
	}
	if len(c.OVSDBEndpoint) < 6 || c.OVSDBEndpoint[:5] != "unix:" {
		return fmt.Errorf("config: ovsdbEndpoint %q must be unix:/path", c.OVSDBEndpoint)
	}
	for name, v := range map[string]string{"bridge": c.Bridge, "gatewayName": c.GatewayName} {
		if !ifNameRE.MatchString(v) {
			return fmt.Errorf("config: %s %q is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)", name, v)
		}
	}
	switch c.DatapathType {
	case DatapathSystem, DatapathNetdev:
	default:
		return fmt.Errorf("config: datapathType %q must be %q or %q", c.DatapathType, DatapathSystem, DatapathNetdev)
	}
	switch c.TrafficMode {
	case ModeEncap, ModeNoEncap, ModeHybrid:
	default:
		return fmt.Errorf("config: trafficMode %q must be encap, noEncap or hybrid", c.TrafficMode)
	}
	switch c.TunnelType {
	case "geneve", "vxlan":
	default:
		return fmt.Errorf("config: tunnelType %q must be geneve or vxlan", c.TunnelType)
	}
	if c.MTU == 0 {
		c.MTU = 1450 // a 1500-byte underlay minus the 50 bytes of geneve/vxlan
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("config: mtu %d out of range 576..65535", c.MTU)
	}
	if c.CTZone < 1 || c.CTZone > 65535 {
		return fmt.Errorf("config: ctZone %d out of range 1..65535", c.CTZone)
	}
	for name, p := range map[string]string{"cniConfDir": c.CNIConfDir, "apiSocket": c.APISocket,
		"stateDir": c.StateDir, "ovsRunDir": c.OVSRunDir} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("config: %s %q must be an absolute path", name, p)
		}
	}
	if c.NetworkName == "" {
		return fmt.Errorf("config: networkName is empty")
	}
	if filepath.Ext(c.CNIConfName) != ".conflist" {
		return fmt.Errorf("config: cniConfName %q must end in .conflist", c.CNIConfName)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("config: logFormat %q must be text or json", c.LogFormat)
	}
	return nil
}
