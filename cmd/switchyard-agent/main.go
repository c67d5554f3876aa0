// Command switchyard-agent is Switchyard's node agent: it programs br-int and serves the CNI plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/agent"
	"github.com/switchyard-net/switchyard/agent/config"
)

func main() {
	if err := command().Execute(); err != nil {
		os.Exit(1)
	}
}

func command() *cobra.Command {
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
			overrideFromFlags(cmd, &cfg, flagCfg)
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
	f.StringVar(&flagCfg.CNIConfDir, "cni-conf-dir", flagCfg.CNIConfDir, "where the CNI conflist is written")
	f.StringVar(&flagCfg.APISocket, "api-socket", flagCfg.APISocket, "local API unix socket")
	f.StringVar(&flagCfg.StateDir, "state-dir", flagCfg.StateDir, "state directory (IPAM)")
	f.StringVar(&flagCfg.MetricsAddress, "metrics-address", flagCfg.MetricsAddress, "serve /metrics, /healthz and /readyz on host:port (empty: off)")
	f.StringVar(&flagCfg.LogFormat, "log-format", flagCfg.LogFormat, "log format: text or json")
	f.StringVar(&flagCfg.LogLevel, "log-level", flagCfg.LogLevel, "log level")
	return cmd
}

// overrideFromFlags copies the flags the user set over the file's values.
func overrideFromFlags(cmd *cobra.Command, cfg *config.Config, f config.Config) {
	set := map[string]func(){
		"node-name": func() { cfg.NodeName = f.NodeName }, "kubeconfig": func() { cfg.Kubeconfig = f.Kubeconfig },
		"pod-cidr": func() { cfg.PodCIDR = f.PodCIDR }, "ovsdb": func() { cfg.OVSDBEndpoint = f.OVSDBEndpoint },
		"ovs-rundir": func() { cfg.OVSRunDir = f.OVSRunDir }, "vswitchd-ctl": func() { cfg.VswitchdCtl = f.VswitchdCtl },
		"bridge": func() { cfg.Bridge = f.Bridge }, "datapath": func() { cfg.DatapathType = f.DatapathType },
		"gateway": func() { cfg.GatewayName = f.GatewayName }, "mtu": func() { cfg.MTU = f.MTU },
		"cni-conf-dir": func() { cfg.CNIConfDir = f.CNIConfDir }, "api-socket": func() { cfg.APISocket = f.APISocket },
		"state-dir": func() { cfg.StateDir = f.StateDir }, "log-format": func() { cfg.LogFormat = f.LogFormat },
		"log-level": func() { cfg.LogLevel = f.LogLevel }, "metrics-address": func() { cfg.MetricsAddress = f.MetricsAddress },
	}
	for name, apply := range set {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
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
