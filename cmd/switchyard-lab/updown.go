package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/test/lab/cluster"
	"github.com/switchyard-net/switchyard/test/lab/controlplane"
	"github.com/switchyard-net/switchyard/test/lab/topology"
)

func upCmd() *cobra.Command {
	o := cluster.Options{Name: "lab", Nodes: 3, Mode: "encap", Tunnel: "geneve", Topology: topology.Flat,
		UnderlayCIDR: "192.168.77.0/24", Underlay2: "192.168.78.0/24", ClusterCIDR: "10.244.0.0/16",
		ServiceCIDR: "10.96.0.0/16"}
	c := &cobra.Command{
		Use:   "up",
		Short: "Bring a lab up",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.StateDir = stateDir
			if o.BinDir == "" {
				o.BinDir = selfDir()
			}
			if o.CPBinDir == "" {
				o.CPBinDir = controlplane.DefaultBinDir()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			l, err := cluster.Up(ctx, o, say)
			if err != nil {
				return err
			}
			fmt.Printf("\nThe lab is up: %d nodes, mode %s", l.Options.Nodes, l.Options.Mode)
			if l.Options.Mode != "noEncap" {
				fmt.Printf(" (%s)", l.Options.Tunnel)
			}
			self := filepath.Join(o.BinDir, "switchyard-lab")
			if stateDir != defaultState() {
				self += " --state " + stateDir
			}
			fmt.Printf(".\nUse kubectl:   %s kubectl get nodes -o wide\n", self)
			fmt.Printf("or directly:   KUBECONFIG=%s kubectl ...\n", l.Kubeconfig())
			fmt.Printf("A tour:        %s tour\n", self)
			fmt.Printf("Tear it down:  %s down\n", self)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Name, "name", o.Name, "lab name (prefixes every namespace: sy<name>-...)")
	f.IntVar(&o.Nodes, "nodes", o.Nodes, "number of nodes")
	f.StringVar(&o.Mode, "mode", o.Mode, "traffic mode: encap, noEncap or hybrid")
	f.StringVar(&o.Tunnel, "tunnel", o.Tunnel, "tunnel type: geneve or vxlan")
	f.StringVar(&o.Topology, "topology", o.Topology, "flat (one L2 segment) or two-subnets (joined by a router)")
	f.StringVar(&o.UnderlayCIDR, "underlay-cidr", o.UnderlayCIDR, "underlay subnet (nodes, control plane, external host)")
	f.StringVar(&o.Underlay2, "underlay2-cidr", o.Underlay2, "second underlay subnet (two-subnets)")
	f.StringVar(&o.ClusterCIDR, "cluster-cidr", o.ClusterCIDR, "pod CIDR of the cluster (a /24 per node)")
	f.StringVar(&o.ServiceCIDR, "service-cidr", o.ServiceCIDR, "Service ClusterIP range")
	f.StringVar(&o.BinDir, "bin-dir", "", "directory with switchyard-agent, switchyard-cni, switchyard-lab (default: this binary's)")
	f.StringVar(&o.CPBinDir, "controlplane-bin", "", "directory with the control plane binaries (default: the build cache)")
	f.IntVar(&o.APIPort, "api-port", 0, "host loopback port for the API server (default: a free one)")
	return c
}

func downCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove the lab: pods, processes, namespaces, links and the state directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			if err := l.Down(context.Background(), say); err != nil {
				return err
			}
			say("lab removed")
			return nil
		},
	}
}
