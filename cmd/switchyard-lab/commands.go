package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/test/lab/cluster"
	"github.com/switchyard-net/switchyard/test/lab/forward"
	"github.com/switchyard-net/switchyard/test/lab/workload"
)

func statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the lab's nodes, processes and pods",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			fmt.Print(l.Status(context.Background()))
			return nil
		},
	}
}

func kubectlCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl [args...]",
		Short:              "Run the lab's kubectl with the lab's kubeconfig",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			k := exec.Command(filepath.Join(l.Options.CPBinDir, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...)
			k.Stdin, k.Stdout, k.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := k.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					os.Exit(ee.ExitCode())
				}
				return err
			}
			return nil
		},
	}
}

func execCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exec <namespace/pod> -- command [args...]",
		Short: "Run a command inside a pod's network namespace (like kubectl exec)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return fmt.Errorf("usage: exec <namespace/pod> -- command [args...]")
			}
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			netns, err := l.PodNetns(context.Background(), args[0])
			if err != nil {
				return err
			}
			c := exec.Command("ip", append([]string{"netns", "exec", netns}, args[1:]...)...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := c.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					os.Exit(ee.ExitCode())
				}
				return err
			}
			return nil
		},
	}
}

// probeResult is a probe's outcome as an exit status: 0 connected, 1 refused, 2 timeout.
type probeResult struct{ outcome workload.Outcome }

func (p probeResult) Error() string { return p.outcome.String() }
func (p probeResult) ExitCode() int {
	if p.outcome == workload.Refused {
		return 1
	}
	return 2
}

func probeCmd() *cobra.Command {
	var proto string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "probe <namespace/pod> <host:port>",
		Short: "Connect from a pod and print the server's reply, or refused / timeout (exit 0, 1, 2)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := net.SplitHostPort(args[1]); err != nil {
				return fmt.Errorf("target %q: want host:port", args[1])
			}
			l, err := cluster.Open(stateDir)
			if err != nil {
				return err
			}
			netns, err := l.PodNetns(context.Background(), args[0])
			if err != nil {
				return err
			}
			reply, outcome, err := workload.Probe(context.Background(), "/run/netns/"+netns, args[1], proto, timeout)
			if err != nil {
				return err
			}
			if outcome != workload.Connected {
				fmt.Println(outcome)
				cmd.SilenceErrors = true
				return probeResult{outcome}
			}
			fmt.Println(strings.TrimSpace(reply))
			return nil
		},
	}
	c.Flags().StringVar(&proto, "proto", "tcp", "tcp, udp or sctp")
	c.Flags().DurationVar(&timeout, "timeout", time.Second, "how long to wait for an answer")
	return c
}

func serveCmd() *cobra.Command {
	var o workload.Options
	c := &cobra.Command{
		Use:    "serve",
		Short:  "The built-in pod server (started by the lab kubelet inside a pod's namespace)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return workload.Serve(ctx, o)
		},
	}
	workload.BindFlags(c.Flags(), &o)
	return c
}

func forwardCmd() *cobra.Command {
	var netns, listen, to string
	c := &cobra.Command{
		Use:    "forward",
		Short:  "Forward a loopback port of the host into a lab namespace (the API server)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			host, _, err := net.SplitHostPort(listen)
			if err != nil || !net.ParseIP(host).IsLoopback() {
				return fmt.Errorf("--listen %q: must be a loopback host:port", listen)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			return forward.Serve(ctx, ln, "/run/netns/"+netns, to)
		},
	}
	c.Flags().StringVar(&netns, "netns", "", "namespace to dial in")
	c.Flags().StringVar(&listen, "listen", "", "loopback address to listen on")
	c.Flags().StringVar(&to, "to", "", "address to dial inside the namespace")
	return c
}
