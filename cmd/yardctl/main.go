// Command yardctl shows what Switchyard's agent has done on a node: flows grouped by the Kubernetes object that owns
// them, the local pods, and the agent's status. It talks to the agent's root-only local socket.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
)

func main() {
	if err := root(os.Stdout).Execute(); err != nil {
		os.Exit(1)
	}
}

type globals struct {
	socket     string
	output     string
	kubeconfig string
	node       string
}

func root(out io.Writer) *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "yardctl",
		Short: "Inspect Switchyard on a node: flows by Kubernetes object, pods, status",
		Long: `yardctl asks the node's switchyard-agent (its local socket, root only) what it has programmed.

  yardctl flows --pod default/web-1      the flows of one pod, table by table, with packet counters
  yardctl flows --table SpoofGuard       one table, grouped by owning object
  yardctl pods                           the pods attached on this node
  yardctl services                       the Services: entry points, group, endpoints (buckets), packets
  yardctl policies                       the NetworkPolicies isolating local pods, their rules, dropped packets
  yardctl status                         the agent's readiness, pod CIDR, bridge and flow count
  yardctl nodes                          the peer nodes and how this node reaches them
  yardctl trace x/a x/b:8080             a connection's first packet, table by table, across nodes
  yardctl explain x/a svc/x/web:80       one line: delivered or dropped, and what decided it`,
		SilenceUsage: true,
	}
	c.SetOut(out)
	c.PersistentFlags().StringVar(&g.socket, "socket", envOr("SWITCHYARD_AGENT_SOCKET", api.DefaultSocket), "the agent's local API socket (env SWITCHYARD_AGENT_SOCKET)")
	c.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	c.PersistentFlags().StringVar(&g.kubeconfig, "kubeconfig", envOr("KUBECONFIG", ""), "the cluster: resolves pods and Services by name, and with --node (or a trace crossing nodes) reaches agents through their remote API")
	c.PersistentFlags().StringVar(&g.node, "node", "", "ask this node's agent through its remote API (needs --kubeconfig) instead of the local socket")
	c.AddCommand(flowsCmd(g), podsCmd(g), servicesCmd(g), policiesCmd(g), statusCmd(g), nodesCmd(g), traceCmd(g), explainCmd(g))
	return c
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// get fetches path from the agent (--node's, or the local one) into v.
func (g *globals) get(path string, v any) error {
	if g.output != "text" && g.output != "json" {
		return fmt.Errorf("--output %q: want text or json", g.output)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k, err := kubeClient(g.kubeconfig)
	if err != nil {
		return err
	}
	c, err := g.agent(ctx, k, api.Timeouts{})
	if err != nil {
		return err
	}
	return c.Do(ctx, "GET", path, nil, v)
}

// agent is the agent yardctl asks first: --node's through its remote API, or the local socket's.
func (g *globals) agent(ctx context.Context, k *kube, t api.Timeouts) (*api.Client, error) {
	if g.node == "" {
		return api.NewClient(g.socket, t), nil
	}
	if k == nil {
		return nil, fmt.Errorf("--node %s needs --kubeconfig (or $KUBECONFIG): the remote API is found through the Node object", g.node)
	}
	return k.remoteAgent(ctx, g.node, t)
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
