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

// Tunnel types.
const (
	TunnelGeneve = "geneve"
	TunnelVXLAN  = "vxlan"
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
	// MTU of pods and the gateway; 0 means detected: the transport interface's MTU minus the encapsulation
	// overhead of the mode (see EncapOverhead).
	MTU int `json:"mtu"`
	// TrafficMode is encap, noEncap or hybrid (see docs/modes.md).
	TrafficMode string `json:"trafficMode"`
	// TunnelType is geneve or vxlan (encap and hybrid modes).
	TunnelType string `json:"tunnelType"`
	// TransportInterface carries the traffic between nodes; empty means the interface that holds the node's
	// InternalIP, else the one of the default route. On the netdev datapath in a mode with encapsulation, the
	// agent moves its addresses and routes to the OVS bridge PhysicalBridge (see docs/modes.md).
	TransportInterface string `json:"transportInterface"`
	// PhysicalBridge is the netdev bridge that takes over the transport interface for userspace tunnels.
	PhysicalBridge string `json:"physicalBridge"`
	// TunnelName is the name of the flow-based tunnel port on Bridge.
	TunnelName string `json:"tunnelName"`
	// NoSNAT turns off the masquerading of pod traffic to destinations outside the cluster's pod CIDRs and
	// node addresses (for clusters whose underlay routes pod CIDRs).
	NoSNAT bool `json:"noSNAT"`
	// CTZone is the conntrack zone of the pipeline.
	CTZone int `json:"ctZone"`
	// SNATCTZone is the conntrack zone of Service SNAT (NodePort, hairpin); it must differ from CTZone.
	SNATCTZone int `json:"snatCTZone"`
	// ServiceCIDR is the cluster's Service ClusterIP range (kube-apiserver --service-cluster-ip-range); the host
	// routes it into the gateway.
	ServiceCIDR string `json:"serviceCIDR"`

	// CNIConfDir receives the conflist; CNIConfName is its file name; NetworkName is the conflist's name.
	CNIConfDir  string `json:"cniConfDir"`
	CNIConfName string `json:"cniConfName"`
	NetworkName string `json:"networkName"`

	// APISocket is the agent's local API (root-only unix socket) used by the CNI plugin and yardctl.
	APISocket string `json:"apiSocket"`
	// StateDir keeps IPAM allocations across restarts.
	StateDir string `json:"stateDir"`

	// MetricsAddress serves /metrics, /healthz and /readyz (host:port); empty disables it. The default is loopback
	// only, so pods cannot reach it; open it (e.g. ":9830") for a Prometheus scraping from outside the node.
	MetricsAddress string `json:"metricsAddress"`

	// RemoteAPIPort serves the read-only part of the local API (yardctl's views and traces, never the CNI
	// endpoints) over HTTPS on the node's transport address, for yardctl --kubeconfig from outside the node: bearer
	// tokens checked by TokenReview, access by SubjectAccessReview (get nodes/switchyard), pod addresses refused
	// (docs/debugging.md). 0 disables it; standalone agents (no Kubernetes API) never serve it.
	RemoteAPIPort int `json:"remoteAPIPort"`
	// LogDeniedConnections logs every connection NetworkPolicy denies on this node (one line per denied packet,
	// rate-limited); false logs only those of policies annotated switchyard.io/log-denied: "true" (see
	// docs/networkpolicy.md).
	LogDeniedConnections bool `json:"logDeniedConnections"`
	// DeniedLogRate is the most denied-connection log lines per second on this node (an OVS meter and the agent
	// both enforce it; the rest are counted in switchyard_denied_log_suppressed_total).
	DeniedLogRate int `json:"deniedLogRate"`

	// LogFormat is text or json; LogLevel a logrus level.
	LogFormat string `json:"logFormat"`
	LogLevel  string `json:"logLevel"`
}

// Default returns the configuration of a production node.
func Default() Config {
	return Config{
		OVSDBEndpoint:  "unix:/var/run/openvswitch/db.sock",
		OVSRunDir:      "/var/run/openvswitch",
		Bridge:         "br-int",
		DatapathType:   DatapathSystem,
		GatewayName:    "switchyard-gw0",
		TrafficMode:    ModeEncap,
		TunnelType:     TunnelGeneve,
		PhysicalBridge: "br-phy",
		TunnelName:     "switchyard-tun0",
		CTZone:         65520,
		SNATCTZone:     65521,
		ServiceCIDR:    "10.96.0.0/12",
		CNIConfDir:     "/etc/cni/net.d",
		CNIConfName:    "10-switchyard.conflist",
		NetworkName:    "switchyard",
		APISocket:      "/var/run/switchyard/agent.sock",
		StateDir:       "/var/lib/switchyard",
		MetricsAddress: "127.0.0.1:9830",
		RemoteAPIPort:  10351,
		DeniedLogRate:  10,
		LogFormat:      "text",
		LogLevel:       "info",
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

// Encap says whether the mode encapsulates traffic to at least some peers (encap and hybrid).
func (c *Config) Encap() bool { return c.TrafficMode == ModeEncap || c.TrafficMode == ModeHybrid }

// EncapOverhead is what encapsulation adds to a pod packet on the underlay: 50 bytes for geneve (without
// options) and vxlan over IPv4 (outer Ethernet 14, IPv4 20, UDP 8, geneve/vxlan header 8), 20 more over IPv6.
func EncapOverhead(ipv6Underlay bool) int {
	if ipv6Underlay {
		return 70
	}
	return 50
}

// PodMTU is the MTU of pods and the gateway: the configured one, else the transport interface's MTU minus the
// encapsulation overhead when the mode encapsulates.
func (c *Config) PodMTU(transportMTU int, ipv6Underlay bool) int {
	if c.MTU != 0 {
		return c.MTU
	}
	if c.Encap() {
		return transportMTU - EncapOverhead(ipv6Underlay)
	}
	return transportMTU
}

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
	names := map[string]string{"bridge": c.Bridge, "gatewayName": c.GatewayName, "physicalBridge": c.PhysicalBridge,
		"tunnelName": c.TunnelName}
	if c.TransportInterface != "" {
		names["transportInterface"] = c.TransportInterface
	}
	for name, v := range names {
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
	case TunnelGeneve, TunnelVXLAN:
	default:
		return fmt.Errorf("config: tunnelType %q must be geneve or vxlan", c.TunnelType)
	}
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535) {
		return fmt.Errorf("config: mtu %d out of range 576..65535 (0: detected from the transport interface)", c.MTU)
	}
	for _, dup := range [][2]string{{"bridge", "physicalBridge"}, {"bridge", "tunnelName"}, {"gatewayName", "tunnelName"},
		{"physicalBridge", "tunnelName"}, {"physicalBridge", "gatewayName"}} {
		if names[dup[0]] == names[dup[1]] {
			return fmt.Errorf("config: %s and %s are both %q", dup[0], dup[1], names[dup[0]])
		}
	}
	if c.CTZone < 1 || c.CTZone > 65535 {
		return fmt.Errorf("config: ctZone %d out of range 1..65535", c.CTZone)
	}
	if c.SNATCTZone < 1 || c.SNATCTZone > 65535 || c.SNATCTZone == c.CTZone {
		return fmt.Errorf("config: snatCTZone %d must be in 1..65535 and differ from ctZone %d", c.SNATCTZone, c.CTZone)
	}
	if ip, _, err := net.ParseCIDR(c.ServiceCIDR); err != nil || ip.To4() == nil {
		return fmt.Errorf("config: serviceCIDR %q is not an IPv4 CIDR", c.ServiceCIDR)
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
	if c.MetricsAddress != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddress); err != nil {
			return fmt.Errorf("config: metricsAddress %q: want host:port (empty disables metrics)", c.MetricsAddress)
		}
	}
	if c.RemoteAPIPort < 0 || c.RemoteAPIPort > 65535 {
		return fmt.Errorf("config: remoteAPIPort %d: want 1-65535, or 0 to disable", c.RemoteAPIPort)
	}
	if c.DeniedLogRate < 1 || c.DeniedLogRate > 10000 {
		return fmt.Errorf("config: deniedLogRate %d out of range 1..10000 (log lines per second)", c.DeniedLogRate)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("config: logFormat %q must be text or json", c.LogFormat)
	}
	return nil
}
