package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-net/switchyard/cni/api"
)

// maxHops bounds a trace that crosses nodes (a pod-to-pod path crosses at most two).
const maxHops = 4

// traceOpts are the flags of trace and explain.
type traceOpts struct {
	proto          string
	inPort         string
	socketTemplate string
	nodeSockets    map[string]string
	endpoint       string
	flows          bool
}

func (o *traceOpts) register(c *cobra.Command) {
	c.Flags().StringVar(&o.proto, "proto", "", "tcp, udp or icmp (default: tcp with a port, icmp without)")
	c.Flags().StringVar(&o.inPort, "in-port", "", "where the packet enters the source node instead of the source pod's port: an OpenFlow port number (another pod's port: a spoofed source), gateway or tunnel")
	c.Flags().StringVar(&o.socketTemplate, "socket-template", envOr("SWITCHYARD_AGENT_SOCKET_TEMPLATE", ""), "the agent socket of any node, {node} replaced by its name (e.g. /tmp/sylab/nodes/{node}/run/agent.sock): lets the trace start on the source pod's node and continue on the peers")
	c.Flags().StringToStringVar(&o.nodeSockets, "node-socket", nil, "the agent socket of a node, node=path (repeatable; wins over --socket-template)")
	c.Flags().StringVar(&o.endpoint, "endpoint", "", "through a Service, follow this endpoint's bucket (namespace/pod, IP or IP:port) instead of the first")
}

// socketFor is the agent socket of a node, if the flags name one.
func (o *traceOpts) socketFor(node string) (string, bool) {
	if s, ok := o.nodeSockets[node]; ok {
		return s, true
	}
	if o.socketTemplate != "" {
		return strings.ReplaceAll(o.socketTemplate, "{node}", node), true
	}
	return "", false
}

// reach is a client for node's agent: its socket when the flags name one, else its remote API with --kubeconfig;
// false when yardctl has no way to it.
func (o *traceOpts) reach(ctx context.Context, k *kube, node string, t api.Timeouts) (*api.Client, bool, error) {
	if s, ok := o.socketFor(node); ok {
		return api.NewClient(s, t), true, nil
	}
	if k == nil {
		return nil, false, nil
	}
	c, err := k.remoteAgent(ctx, node, t)
	return c, err == nil, err
}

// tracePath is a whole trace: the hops on each node and, when it could not go on, why.
type tracePath struct {
	Src     target            `json:"src"`
	Dst     target            `json:"dst"`
	Proto   string            `json:"proto"`
	Port    uint16            `json:"port,omitempty"`
	Hops    []api.TraceResult `json:"hops"`
	Stopped string            `json:"stopped,omitempty"` // why the trace did not continue on the next node
}

func traceCmd(g *globals) *cobra.Command {
	o := &traceOpts{}
	c := &cobra.Command{
		Use:   "trace <src> <dst>[:port]",
		Short: "Trace a new connection's first packet through br-int, node by node, in plain words",
		Long: `trace runs ofproto/trace for the first packet of a new connection, with the addresses, ports and MACs
filled in from the agent's state, and prints each table's decision with the object that owns the matched flow.
When the packet leaves through the tunnel (or, with direct routing, through the host) towards another node,
the trace continues on that node's agent.

src and dst are namespace/pod, svc/namespace/name (or namespace/name of a Service) with --kubeconfig, or IPv4
addresses.

  yardctl trace x/a x/b:8080
  yardctl trace x/a svc/x/web:80 --kubeconfig ~/.kube/config       # from anywhere: the agents' remote API
  yardctl trace 10.244.0.9 x/b:8080 --in-port 3        # a spoofed source from port 3`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := o.run(g, args[0], args[1])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), p)
			}
			renderTrace(cmd.OutOrStdout(), p, o.flows)
			return nil
		},
	}
	o.register(c)
	c.Flags().BoolVar(&o.flows, "flows", false, "also print each step's matched flow and actions")
	return c
}

func explainCmd(g *globals) *cobra.Command {
	o := &traceOpts{}
	c := &cobra.Command{
		Use:   "explain <src> <dst>:<port>",
		Short: "One line: is the connection delivered, and what decided it (policy, isolation, endpoints, spoof guard)",
		Long: `explain traces like yardctl trace and prints one line: delivered or not, and the NetworkPolicy rule,
isolation, missing Service endpoint or spoof guard that decided it.

  yardctl explain x/a svc/x/web:80 --kubeconfig ~/.kube/config`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := o.run(g, args[0], args[1])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), p)
			}
			fmt.Fprintln(cmd.OutOrStdout(), explainLine(p))
			return nil
		},
	}
	o.register(c)
	return c
}

// run resolves src and dst, traces on the source's node and follows the packet to the nodes it is sent to.
func (o *traceOpts) run(g *globals, srcArg, dstArg string) (*tracePath, error) {
	if g.output != "text" && g.output != "json" {
		return nil, fmt.Errorf("--output %q: want text or json", g.output)
	}
	dstName, port, err := splitPort(dstArg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := kubeClient(g.kubeconfig)
	if err != nil {
		return nil, err
	}
	r := &resolver{}
	if k != nil {
		r.kube = k.cs
	}
	timeouts := api.Timeouts{Request: 20 * time.Second}
	agent, err := g.agent(ctx, k, timeouts)
	if err != nil {
		return nil, err
	}
	_ = agent.Do(ctx, "GET", api.PathPods, nil, &r.local) // best effort: names local pods
	src, err := r.resolve(ctx, srcArg)
	if err != nil {
		return nil, err
	}
	dst, err := r.resolve(ctx, dstName)
	if err != nil {
		return nil, err
	}
	if src.Node != "" {
		c, ok, err := o.reach(ctx, k, src.Node, timeouts)
		if err != nil {
			return nil, fmt.Errorf("the source's node %s: %w", src.Node, err)
		}
		if ok {
			agent = c
		}
	}
	req := api.TraceRequest{Src: src.IP, Dst: dst.IP, Proto: o.proto, DPort: port, InPort: o.inPort, Endpoint: o.endpoint}
	if strings.Contains(o.endpoint, "/") {
		ep, err := r.resolve(ctx, o.endpoint)
		if err != nil {
			return nil, fmt.Errorf("--endpoint: %w", err)
		}
		req.Endpoint = ep.IP
	}
	if req.Proto == "" {
		req.Proto = "icmp"
		if port != 0 {
			req.Proto = "tcp"
		}
	}
	p := &tracePath{Src: src, Dst: dst, Proto: req.Proto, Port: port}
	for len(p.Hops) < maxHops {
		var res api.TraceResult
		if err := agent.Do(ctx, "GET", req.Query(), nil, &res); err != nil {
			if len(p.Hops) == 0 {
				return nil, err
			}
			p.Stopped = fmt.Sprintf("could not continue on node %s: %v", p.Hops[len(p.Hops)-1].Verdict.Next.Node, err)
			break
		}
		p.Hops = append(p.Hops, res)
		next := res.Verdict.Next
		if next == nil {
			break
		}
		c, ok, err := o.reach(ctx, k, next.Node, timeouts)
		if err != nil {
			p.Stopped = fmt.Sprintf("could not continue on node %s: %v", next.Node, err)
			break
		}
		if !ok {
			p.Stopped = fmt.Sprintf("not continued on node %s: give --kubeconfig (its agent's remote API), or --socket-template or --node-socket %s=<its agent socket>", next.Node, next.Node)
			break
		}
		agent, req = c, next.Request
	}
	return p, nil
}
