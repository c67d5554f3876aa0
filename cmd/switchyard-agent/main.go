// Command switchyard-agent is Switchyard's node agent: it programs br-int and serves the CNI plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/switchyard-net/switchyard/agent"
	"github.com/switchyard-net/switchyard/agent/config"
)

func main() {
	cmd, _ := command()
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}

// command returns the agent's command and the configuration its flags are bound to.
func command() (*cobra.Command, *config.Config) {
	var path string
	flagCfg := config.Default()
	cmd := &cobra.Command{
		Use:   "switchyard-agent",
		Short: "Switchyard node agent: programs the OVS bridge and attaches pods for the CNI plugin",
		Long: `switchyard-agent runs on every node. It manages the integration bridge through OVSDB, installs the
OpenFlow pipeline, allocates pod IPs from the node's pod CIDR, attaches pods when the switchyard CNI plugin asks,
and serves a local API on a root-only unix socket. Options come from --config (YAML, keys as in docs) and are
overridden by flags.`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if err := overrideFromFlags(cmd, &cfg, &flagCfg); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := agent.Run(ctx, cfg, log); err != nil {
				log.WithError(err).Error("agent failed")
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "config", "", "YAML configuration file")
	f.StringVar(&flagCfg.NodeName, "node-name", "", "Kubernetes node name (default $NODE_NAME, then the hostname)")
	f.StringVar(&flagCfg.Kubeconfig, "kubeconfig", "", "kubeconfig for the API server (default: in-cluster)")
	f.StringVar(&flagCfg.PodCIDR, "pod-cidr", "", "pod CIDR of this node, instead of the Node's spec.podCIDR (standalone use)")
	f.StringVar(&flagCfg.OVSDBEndpoint, "ovsdb", flagCfg.OVSDBEndpoint, "ovsdb-server socket (unix:/path)")
	f.StringVar(&flagCfg.OVSRunDir, "ovs-rundir", flagCfg.OVSRunDir, "ovs-vswitchd run directory (bridge .mgmt sockets)")
	f.StringVar(&flagCfg.VswitchdCtl, "vswitchd-ctl", "", "ovs-vswitchd unixctl socket (default: found in --ovs-rundir)")
	f.StringVar(&flagCfg.Bridge, "bridge", flagCfg.Bridge, "integration bridge name")
	f.StringVar(&flagCfg.DatapathType, "datapath", flagCfg.DatapathType, "OVS datapath type: system or netdev")
	f.StringVar(&flagCfg.GatewayName, "gateway", flagCfg.GatewayName, "gateway internal port name")
	f.IntVar(&flagCfg.MTU, "mtu", 0, "pod and gateway MTU (default: the transport interface MTU minus the encapsulation overhead)")
	f.StringVar(&flagCfg.TrafficMode, "traffic-mode", flagCfg.TrafficMode, "traffic between nodes: encap, noEncap or hybrid")
	f.StringVar(&flagCfg.TunnelType, "tunnel-type", flagCfg.TunnelType, "tunnel of encap and hybrid modes: geneve or vxlan")
	f.StringVar(&flagCfg.TransportInterface, "transport-interface", "", "interface between nodes (default: the one holding the node's InternalIP)")
	f.StringVar(&flagCfg.PhysicalBridge, "physical-bridge", flagCfg.PhysicalBridge, "netdev bridge that takes over the transport interface for userspace tunnels")
	f.StringVar(&flagCfg.TunnelName, "tunnel-name", flagCfg.TunnelName, "name of the flow-based tunnel port")
	f.BoolVar(&flagCfg.NoSNAT, "no-snat", false, "do not masquerade pod traffic leaving the cluster")
	f.IntVar(&flagCfg.CTZone, "ct-zone", flagCfg.CTZone, "conntrack zone of the pipeline")
	f.IntVar(&flagCfg.SNATCTZone, "snat-ct-zone", flagCfg.SNATCTZone, "conntrack zone of Service SNAT (differs from --ct-zone)")
	f.BoolVar(&flagCfg.LogDeniedConnections, "log-denied-connections", false, "log every connection NetworkPolicy denies on this node (rate-limited; else per policy with the switchyard.io/log-denied annotation)")
	f.IntVar(&flagCfg.DeniedLogRate, "denied-log-rate", flagCfg.DeniedLogRate, "most denied-connection log lines per second on this node")
	f.StringVar(&flagCfg.ServiceCIDR, "service-cidr", flagCfg.ServiceCIDR, "the cluster's Service ClusterIP range")
	f.StringVar(&flagCfg.CNIConfDir, "cni-conf-dir", flagCfg.CNIConfDir, "where the CNI conflist is written")
	f.StringVar(&flagCfg.CNIConfName, "cni-conf-name", flagCfg.CNIConfName, "file name of the CNI conflist")
	f.StringVar(&flagCfg.NetworkName, "network-name", flagCfg.NetworkName, "name of the CNI network in the conflist")
	f.StringVar(&flagCfg.APISocket, "api-socket", flagCfg.APISocket, "local API unix socket")
	f.StringVar(&flagCfg.StateDir, "state-dir", flagCfg.StateDir, "state directory (IPAM)")
	f.IntVar(&flagCfg.RemoteAPIPort, "remote-api-port", flagCfg.RemoteAPIPort, "port of the authenticated remote API on the node address for yardctl --kubeconfig (0: off)")
	f.StringVar(&flagCfg.MetricsAddress, "metrics-address", flagCfg.MetricsAddress, "serve /metrics, /healthz and /readyz on host:port (empty: off)")
	f.StringVar(&flagCfg.LogFormat, "log-format", flagCfg.LogFormat, "log format: text or json")
	f.StringVar(&flagCfg.LogLevel, "log-level", flagCfg.LogLevel, "log level")
	return cmd, &flagCfg
}

// overrideFromFlags copies the flags the user set over the file's values. Each flag is bound to a field of flagCfg
// (f.StringVar(&flagCfg.Bridge, ...)); the field is found by the flag value's address, so a new option needs only
// its flag line.
func overrideFromFlags(cmd *cobra.Command, cfg *config.Config, flagCfg *config.Config) error {
	dst, src := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(flagCfg).Elem()
	fields := map[uintptr]int{}
	for i := range src.NumField() {
		fields[src.Field(i).Addr().Pointer()] = i
	}
	var err error
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if fl.Name == "config" {
			return
		}
		i, ok := fields[reflect.ValueOf(fl.Value).Pointer()]
		if !ok {
			err = fmt.Errorf("flag --%s is bound to no configuration field", fl.Name)
			return
		}
		dst.Field(i).Set(src.Field(i))
	})
	return err
}

func newLogger(cfg config.Config) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	lvl, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("config: logLevel %q: %w", cfg.LogLevel, err)
	}
	log.SetLevel(lvl)
	if cfg.LogFormat == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return log, nil
}
