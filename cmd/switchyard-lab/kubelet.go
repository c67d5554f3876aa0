package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/test/lab/cluster"
	"github.com/switchyard-net/switchyard/test/lab/kubelet"
)

func kubeletCmd() *cobra.Command {
	var node int
	c := &cobra.Command{
		Use:    "kubelet",
		Short:  "The lab kubelet of one node (started by `up` inside the node's namespace)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			cs, err := l.KubeletClient(node)
			if err != nil {
				return err
			}
			log := logrus.New()
			log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return kubelet.Run(ctx, l.KubeletConfig(node, cs, log.WithField("node", l.Plan.NodeName(node))))
		},
	}
	c.Flags().IntVar(&node, "node", 1, "node number (1-based)")
	return c
}
