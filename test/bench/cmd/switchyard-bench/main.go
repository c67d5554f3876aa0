// Command switchyard-bench is Switchyard's benchmark harness (`make bench`, issue 10). It measures, in one run on
// this machine, Switchyard against the reference CNI plugins (containernetworking/plugins bridge + host-local)
// and against the physical limits (a plain veth pair, the bare veth steps, and on every datapath path a single-table
// OVS NORMAL bridge of the same shape: crossbaseline.go), and writes docs/benchmarks.md with SVG plots beside it:
//
//   - pod attach: CNI ADD and DEL latency, sequential and concurrent (attach.go);
//   - datapath: iperf3 TCP throughput and a TCP connection rate test, same node and across nodes in geneve,
//     vxlan and noEncap labs (datapath.go, crossnode.go, crr.go);
//   - control plane: Services programmed into a real OVS through the real flows Store and proxy (controlplane.go);
//   - NetworkPolicy: policies programmed through the real networkpolicy controller and flows Store (netpol.go).
//
// Every measurement is repeated (-reps) and reported as median, min and max. -quick runs each once with small
// sizes, as a smoke test. It needs root, Open vSwitch, iperf3, and the lab's control plane binaries for the
// cross-node part (make controlplane).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Options are the command line.
type Options struct {
	Quick   bool
	Repo    string
	Out     string // the Markdown report
	PlotDir string // SVG plots
	Only    map[string]bool
	Reps    int
}

// sections of a run, in order.
var sections = []string{"attach", "datapath", "crossnode", "controlplane", "netpol"}

func main() {
	if len(os.Args) > 1 {
		if fn, ok := subcommands[os.Args[1]]; ok {
			if err := fn(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
				os.Exit(1)
			}
			return
		}
	}
	var o Options
	var only string
	flag.BoolVar(&o.Quick, "quick", false, "every measurement once with small sizes (a smoke test, ~2 minutes)")
	flag.StringVar(&o.Repo, "repo", ".", "the repository's root")
	flag.StringVar(&o.Out, "out", "docs/benchmarks.md", "the report to write (relative to -repo)")
	flag.StringVar(&o.PlotDir, "plots", "docs/bench", "directory of the SVG plots (relative to -repo)")
	flag.StringVar(&only, "only", strings.Join(sections, ","), "sections to run: "+strings.Join(sections, ","))
	flag.IntVar(&o.Reps, "reps", 0, "repetitions of each measurement (default 3, 1 with -quick); pod attach runs 3x as many outside -quick")
	flag.StringVar(&agentLogDir, "agent-logs", "", "keep the log of every Switchyard agent in this directory (the per-step timings of ADD and DEL)")
	render := flag.Bool("render", false, "measure nothing: write the report again from <plots>/results.json")
	flag.Parse()
	if *render {
		if err := rerender(o); err != nil {
			fmt.Fprintln(os.Stderr, "switchyard-bench:", err)
			os.Exit(1)
		}
		return
	}
	o.Only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		o.Only[strings.TrimSpace(s)] = true
	}
	if o.Reps == 0 {
		o.Reps = 3
		if o.Quick {
			o.Reps = 1
		}
	}
	if err := runBench(o); err != nil {
		fmt.Fprintln(os.Stderr, "switchyard-bench:", err)
		os.Exit(1)
	}
}

// attachRepsFactor multiplies -reps for pod attach: a repetition costs ~25 s, and on a shared 2-core VM a
// repetition's p50 moves by up to ±20% from the next (the sequential ADD ratio to the bridge plugin ranged 1.03-1.33
// over six 2-3-repetition runs of one commit), so its medians need more repetitions than the other sections'.
const attachRepsFactor = 3

// attachReps is the repetitions of pod attach (-quick keeps its one).
func (o Options) attachReps() int {
	if o.Quick {
		return o.Reps
	}
	return o.Reps * attachRepsFactor
}

// agentLogDir, if set, is where each Switchyard node's agent log is copied when the node is removed.
var agentLogDir string

// interruptGrace is how long a run stopped by SIGINT/SIGTERM gets to return through its own cleanups.
const interruptGrace = 90 * time.Second

// subcommands are the helper processes the harness starts inside namespaces.
var subcommands = map[string]func([]string) error{
	"crr-server": crrServerMain,
	"crr-client": crrClientMain,
	"cp-worker":  cpWorkerMain,
	"np-worker":  npWorkerMain,
}

// logf prints progress with the time since the start.
var start = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
}

// runBench runs the selected sections and writes the report.
func runBench(o Options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, Open vSwitch)")
	}
	repo, err := filepath.Abs(o.Repo)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unwound := make(chan struct{})
	defer close(unwound) // after every cleanup below
	var c cleanups
	defer c.run()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		// Cancelling makes the running section fail and return through its own cleanups (a lab is taken down,
		// a node's pods deleted); only if that takes too long, or on a second signal, are the registered
		// cleanups run from here.
		logf("%v: stopping, cleaning up (a second signal forces it)", s)
		cancel()
		select {
		case <-unwound:
		case <-time.After(interruptGrace):
			logf("not unwound after %v: removing what is registered", interruptGrace)
			interrupted.run()
			c.run()
		case <-sigs:
			interrupted.run()
			c.run()
		}
		os.Exit(130)
	}()

	rep := &Report{Options: o, Machine: describeMachine(ctx, repo)}
	logf("%s", rep.Machine)
	logf("building switchyard and the reference plugins %s", refPluginsVersion)
	bins, err := buildBinaries(ctx, &c, repo)
	if err != nil {
		return err
	}
	sizes := fullSizes
	if o.Quick {
		sizes = quickSizes
	}
	rep.Sizes = sizes
	if o.Only["attach"] {
		if rep.Attach, err = benchAttach(ctx, bins, sizes.Pods, sizes.Concurrency, o.attachReps(), logf); err != nil {
			return err
		}
	}
	if o.Only["datapath"] {
		if rep.Datapath, err = benchDatapath(ctx, bins, sizes, o.Reps, logf); err != nil {
			return err
		}
	}
	if o.Only["crossnode"] {
		if rep.Crossnode, err = benchCrossnode(ctx, bins, sizes, o.Reps, logf); err != nil {
			return err
		}
	}
	if o.Only["controlplane"] {
		if rep.ControlPlane, err = benchControlPlane(ctx, sizes, o.Reps, logf); err != nil {
			return err
		}
	}
	if o.Only["netpol"] {
		if rep.NetworkPolicy, err = benchNetworkPolicy(ctx, sizes, o.Reps, logf); err != nil {
			return err
		}
	}
	rep.Took = time.Since(start)
	out, plots := reportPaths(repo, o)
	if err := rep.write(out, plots); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// Sizes are the sizes of a run.
type Sizes struct {
	Pods, Concurrency int           // attach
	Duration          time.Duration // each iperf3 / connection-rate run
	Services          []int         // control plane growth
	Headline          int           // the Services count of the headline figure
	Endpoints         int           // per Service
	Updates           int           // single-endpoint updates timed
	PolicyPods        []int         // NetworkPolicy growth: pods (and half as many policies)
	PolicyHeadline    int           // the size issue 6's targets are judged at
	PolicyChanges     int           // single changes timed per kind and run
}

var (
	fullSizes = Sizes{Pods: 100, Concurrency: 10, Duration: 5 * time.Second, Services: []int{100, 1000, 5000, 10000}, Headline: 5000, Endpoints: 10, Updates: 200,
		PolicyPods: []int{100, 1000, 10000}, PolicyHeadline: 1000, PolicyChanges: 50}
	quickSizes = Sizes{Pods: 10, Concurrency: 5, Duration: time.Second, Services: []int{100, 1000}, Headline: 1000, Endpoints: 10, Updates: 20,
		PolicyPods: []int{100, 1000}, PolicyHeadline: 1000, PolicyChanges: 10}
)

// reportPaths resolves -out and -plots against the repository.
func reportPaths(repo string, o Options) (out, plots string) {
	out, plots = o.Out, o.PlotDir
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo, out)
	}
	if !filepath.IsAbs(plots) {
		plots = filepath.Join(repo, plots)
	}
	return out, plots
}

// rerender writes the report and plots again from the raw results of an earlier run (after a change to the
// report's layout or notes), keeping that run's machine, options and figures.
func rerender(o Options) error {
	repo, err := filepath.Abs(o.Repo)
	if err != nil {
		return err
	}
	out, plots := reportPaths(repo, o)
	b, err := os.ReadFile(filepath.Join(plots, "results.json"))
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return err
	}
	return rep.write(out, plots)
}
