package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is everything one run measured.
type Report struct {
	Options       Options
	Machine       Machine
	Sizes         Sizes
	Attach        *AttachResult
	Datapath      []*PathResult
	Crossnode     []*PathResult
	ControlPlane  *CPSeries
	NetworkPolicy *NPSeries
	Took          time.Duration
}

// write writes the Markdown report to out, and the plots and the raw results (results.json) into plotDir.
func (r *Report) write(out, plotDir string) error {
	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(out), plotDir)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(plotDir, "results.json"), raw, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	r.header(&b)
	r.targets(&b)
	for _, section := range []func(*strings.Builder, string, string) error{r.attachSection, r.datapathSection, r.controlPlaneSection, r.netpolSection} {
		if err := section(&b, plotDir, rel); err != nil {
			return err
		}
	}
	b.WriteString(methodText)
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func (r *Report) header(b *strings.Builder) {
	mode := fmt.Sprintf("full run, %d repetitions of every measurement (pod attach: %d)", r.Options.Reps,
		r.Options.attachReps())
	cmd := "make bench"
	if r.Options.Quick {
		mode = fmt.Sprintf("**quick run** (`-quick`: small sizes, %d repetition(s); a smoke test, not a result to quote)", r.Options.Reps)
		cmd = "make bench BENCH_FLAGS=-quick"
	}
	fmt.Fprintf(b, "# Benchmarks\n\nWritten by `%s` (test/bench/cmd/switchyard-bench) on %s in %s: %s.\n\n",
		cmd, r.Machine.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second), mode)
	fmt.Fprintf(b, "**Machine:** %s.\n\n", r.Machine)
	b.WriteString("Speed claims count only as **ratios measured in the same run on the same machine**: the absolute numbers " +
		"below belong to this machine and this moment. Cells read `median (min–max)` over the repetitions; a p50 or p99 " +
		"is first taken within each repetition. A ratio target's verdict compares the medians and an absolute limit " +
		"must hold in every repetition; *repetitions that met it* judges each repetition on its own (a ratio within " +
		"one repetition, whose variants or paths are measured in turn). The raw numbers are in " +
		"[bench/results.json](bench/results.json). The method is at the end.\n\n")
}

// verdict says "met" or "**not met**".
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// repsMet tells how many repetitions met a target on their own ("7 of 9"): xs holds each repetition's figure.
func repsMet(xs []float64, ok func(float64) bool) string {
	if len(xs) == 0 {
		return "n/a"
	}
	n := 0
	for _, x := range xs {
		if ok(x) {
			n++
		}
	}
	return fmt.Sprintf("%d of %d", n, len(xs))
}

// limitCells are the last two cells of an absolute limit's row, from one test of the limit: how many repetitions
// stayed below it, and the verdict (every repetition must).
func limitCells(f Summary, limit float64) string {
	return repsMet(f.Runs, func(x float64) bool { return x < limit }) + " | " + verdict(f.Max < limit)
}

// ratioCells are the last two cells of a ratio target's row, from one test ok of a ratio a/b: how many repetitions
// met it (the ratio within each), and the verdict on the ratio of the medians.
func ratioCells(a, b Summary, ok func(float64) bool) string {
	return repsMet(pairedRatios(a.Runs, b.Runs), ok) + " | " + verdict(b.Median > 0 && ok(a.Median/b.Median))
}

// pairedRatios divides a's figure by b's in each repetition that measured both (the same index is the same
// repetition: the variants or paths of a repetition are measured in turn).
func pairedRatios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// targets summarises the targets with the figures they are judged by. The verdict is the medians' (for an
// absolute limit: every repetition's); the repetitions column shows how steady it is.
func (r *Report) targets(b *strings.Builder) {
	b.WriteString("## Targets\n\n| target | measured | repetitions that met it | verdict |\n|---|---|---|---|\n")
	if a := r.Attach; a != nil {
		for _, mode := range []string{"sequential", "concurrent"} {
			sw, br := a.Figure("switchyard", mode, addP(50)), a.Figure("bridge", mode, addP(50))
			fmt.Fprintf(b, "| Switchyard ADD p50 (flows included) <= bridge + host-local, %s | %.1f ms vs %.1f ms: ratio %s | %s |\n",
				mode, sw.Median, br.Median, ratio(sw.Median, br.Median), ratioCells(sw, br, func(x float64) bool { return x <= 1 }))
		}
	}
	r.baselineTargets(b)
	r.cpTargets(b)
	r.npTargets(b)
	if r.Attach == nil && r.Datapath == nil && r.Crossnode == nil && r.NetworkPolicy == nil {
		b.WriteString("| (pod attach, datapath and NetworkPolicy not run) | | | |\n")
	}
	b.WriteString("\n")
}

// pathFigures are the traffic figures of a path.
var pathFigures = []struct {
	name, unit string
	get        func(*PathResult) []float64
}{
	{"TCP 1 stream", "Gbit/s", func(p *PathResult) []float64 { return p.Gbps1 }},
	{"TCP 4 streams", "Gbit/s", func(p *PathResult) []float64 { return p.Gbps4 }},
	{"TCP connection rate", "conn/s", func(p *PathResult) []float64 { return p.CRR }},
}

func findPath(ps []*PathResult, key string) *PathResult {
	for _, p := range ps {
		if p.Key == key {
			return p
		}
	}
	return nil
}

func (r *Report) attachSection(b *strings.Builder, plotDir, rel string) error {
	b.WriteString("## Pod attach\n\n")
	a := r.Attach
	if a == nil {
		b.WriteString("Not run in this run (`-only`).\n\n")
		return nil
	}
	fmt.Fprintf(b, "%d pods one after the other (sequential), then %d pods by %d workers at once (concurrent); CNI ADD "+
		"then DEL of every pod, each call timed on its own. A fresh node per variant and repetition; %d repetitions "+
		"(outside -quick, %dx -reps: this section's medians move most between repetitions).\n\n", a.Pods, a.Pods,
		a.Concurrency, r.Options.attachReps(), attachRepsFactor)
	b.WriteString("| variant | mode | ADD p50 ms | ADD p99 ms | DEL p50 ms | DEL p99 ms | ADD phase pods/s |\n|---|---|---|---|---|---|---|\n")
	names := map[string]string{"switchyard": "Switchyard (agent + OVS, flows included)",
		"bridge": "bridge + host-local " + refPluginsVersion, "floor": "floor (veth steps only, in-process)"}
	for _, mode := range []string{"sequential", "concurrent"} {
		for _, v := range attachVariants {
			rate := a.Figure(v, mode, func(run AttachRun) float64 { return float64(len(run.Add)) / run.Wall.Seconds() })
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", names[v], mode,
				a.Figure(v, mode, addP(50)).cell("%.1f"), a.Figure(v, mode, addP(99)).cell("%.1f"),
				a.Figure(v, mode, delP(50)).cell("%.1f"), a.Figure(v, mode, delP(99)).cell("%.1f"), rate.cell("%.0f"))
		}
	}
	b.WriteString("\nRatios of the medians (lower is faster):\n\n| ratio | ADD p50 | ADD p99 | DEL p50 | DEL p99 |\n|---|---|---|---|---|\n")
	for _, mode := range []string{"sequential", "concurrent"} {
		for _, pair := range [][2]string{{"switchyard", "bridge"}, {"switchyard", "floor"}, {"bridge", "floor"}} {
			fmt.Fprintf(b, "| %s / %s, %s |", pair[0], pair[1], mode)
			for _, f := range []func(AttachRun) float64{addP(50), addP(99), delP(50), delP(99)} {
				fmt.Fprintf(b, " %s |", ratio(a.Figure(pair[0], mode, f).Median, a.Figure(pair[1], mode, f).Median))
			}
			b.WriteString("\n")
		}
	}
	r.attachGrowth(b)
	r.attachCPU(b)
	r.attachDelThread(b)
	cats := []string{"ADD p50 seq", "ADD p99 seq", "ADD p50 conc", "ADD p99 conc", "DEL p50 seq", "DEL p50 conc"}
	var series []Series
	for _, v := range attachVariants {
		s := Series{Name: names[v]}
		for _, c := range []struct {
			mode string
			f    func(AttachRun) float64
		}{{"sequential", addP(50)}, {"sequential", addP(99)}, {"concurrent", addP(50)}, {"concurrent", addP(99)},
			{"sequential", delP(50)}, {"concurrent", delP(50)}} {
			s.Values = append(s.Values, a.Figure(v, c.mode, c.f).Median)
		}
		series = append(series, s)
	}
	if err := barChart(filepath.Join(plotDir, "attach.svg"), "CNI ADD and DEL latency (median of repetitions)", "ms", cats, series); err != nil {
		return err
	}
	fmt.Fprintf(b, "\n![CNI latency](%s/attach.svg)\n\n", rel)
	return nil
}

// attachCPU tells where the CPU time of the ADD phase goes: the whole machine per ADD for every variant (plugin
// processes, daemons, kernel work on their behalf, and the harness), and Switchyard's daemons on their own.
func (r *Report) attachCPU(b *strings.Builder) {
	a := r.Attach
	if a.Figure("switchyard", "sequential", cpuPerAdd(machineCPU)).Median == 0 {
		return // results of a run before CPU times were measured
	}
	b.WriteString("\nCPU time per ADD during the ADD phase, ms (the machine: every process and the kernel; the daemons: " +
		"their threads and the processes they ran, such as the agent's ovs-ofctl):\n\n" +
		"| used by | sequential | concurrent |\n|---|---|---|\n")
	rows := []struct{ variant, who, name string }{
		{"switchyard", machineCPU, "machine, Switchyard"},
		{"switchyard", "ovs-vswitchd", "ovs-vswitchd (Switchyard)"},
		{"switchyard", "agent", "switchyard-agent"},
		{"switchyard", "ovsdb-server", "ovsdb-server (Switchyard)"},
		{"bridge", machineCPU, "machine, bridge + host-local"},
		{"floor", machineCPU, "machine, floor"},
	}
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s | %s |\n", row.name, a.Figure(row.variant, "sequential", cpuPerAdd(row.who)).cell("%.1f"),
			a.Figure(row.variant, "concurrent", cpuPerAdd(row.who)).cell("%.1f"))
	}
}

// attachGrowth tells how a sequential ADD's latency grows with the pods already on the node: the p50 of the first,
// the middle and the last tenth of the pods.
func (r *Report) attachGrowth(b *strings.Builder) {
	n := r.Attach.Pods
	k := max(1, n/10)
	if n < 3*k {
		return
	}
	starts := []int{0, n/2 - k/2, n - k} // where each tenth starts
	b.WriteString("\nSequential ADD p50 by the pods already on the node (ms; a pod's ADD comes after those before it):\n\n| variant |")
	for _, from := range starts {
		if k == 1 {
			fmt.Fprintf(b, " pod %d |", from+1)
		} else {
			fmt.Fprintf(b, " pods %d–%d |", from+1, from+k)
		}
	}
	b.WriteString("\n|---|---|---|---|\n")
	names := map[string]string{"switchyard": "Switchyard", "bridge": "bridge + host-local", "floor": "floor"}
	for _, v := range attachVariants {
		fmt.Fprintf(b, "| %s |", names[v])
		for _, from := range starts {
			var p50s []float64
			for _, run := range r.Attach.Runs[v]["sequential"] {
				if len(run.Add) >= from+k {
					p50s = append(p50s, percentile(ms(run.Add[from:from+k]), 50))
				}
			}
			fmt.Fprintf(b, " %s |", summarize(p50s).cell("%.1f"))
		}
		b.WriteString("\n")
	}
}

// attachDelThread tells what ovs-vswitchd's main thread did while Switchyard's pods were deleted: a DEL waits for it
// twice (the pod's flow bundle, then its conntrack flush), and it also removes every deleted pod's port.
func (r *Report) attachDelThread(b *strings.Builder) {
	runs := map[string][]*ThreadStates{}
	for _, mode := range []string{"sequential", "concurrent"} {
		for _, run := range r.Attach.Runs["switchyard"][mode] {
			if run.DelVswitchd != nil && run.DelVswitchd.Samples > 0 {
				runs[mode] = append(runs[mode], run.DelVswitchd)
			}
		}
	}
	if len(runs) == 0 {
		return // results of a run before the DEL phase was sampled
	}
	fmt.Fprintf(b, "\nWhat ovs-vswitchd's main thread did during Switchyard's DEL phase, %% of its state sampled every %v "+
		"(/proc/<pid>/task/<pid>/stat; where it waits: the innermost kernel functions on its stack):\n\n"+
		"| mode | running | waiting in the kernel | idle | where it waits most (share of the waiting samples) |\n|---|---|---|---|---|\n",
		delSampleInterval)
	for _, mode := range []string{"sequential", "concurrent"} {
		share := func(count func(*ThreadStates) int) string {
			var xs []float64
			for _, t := range runs[mode] {
				xs = append(xs, t.share(count(t)))
			}
			return summarize(xs).cell("%.0f%%")
		}
		where := "n/a"
		if site, pct := mostBlockedIn(runs[mode]); site != "" {
			where = fmt.Sprintf("`%s` (%.0f%%)", site, pct)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mode, share(func(t *ThreadStates) int { return t.Running }),
			share(func(t *ThreadStates) int { return t.Blocked }), share(func(t *ThreadStates) int { return t.Idle }), where)
	}
}

func (r *Report) datapathSection(b *strings.Builder, plotDir, rel string) error {
	b.WriteString("## Datapath\n\n")
	paths := r.allPaths()
	if len(paths) == 0 {
		b.WriteString("Not run in this run (`-only`).\n\n")
		return nil
	}
	if r.Crossnode == nil {
		b.WriteString("The cross-node labs were not run in this run (`-only`).\n\n")
	}
	fmt.Fprintf(b, "iperf3 TCP for %v per run (receiver's rate), and the connection rate: new TCP connection, 1-byte request, "+
		"1-byte response, close, one at a time, for %v (TCP_CRR-like; `crr-client`/`crr-server` in this binary).\n\n",
		r.Sizes.Duration, r.Sizes.Duration)
	b.WriteString("| path | MTU | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | connections/s | retransmits, 1 stream |\n|---|---|---|---|---|---|\n")
	for _, p := range paths {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", p.Name, p.MTU, summarize(p.Gbps1).cell("%.2f"),
			summarize(p.Gbps4).cell("%.2f"), summarize(p.CRR).cell("%.0f"), summarize(p.Retrans1).cell("%.0f"))
	}
	r.baselineRatios(b)
	b.WriteString("\nRatios to the physical limits, of the medians (1 stream / 4 streams / connections per second):\n\n| path | vs veth (physical limit) | vs veth tx off |\n|---|---|---|\n")
	for _, p := range paths {
		fmt.Fprintf(b, "| %s |", p.Name)
		for _, ref := range []string{pathVethTxOn, pathVethTxOff} {
			q := findPath(r.Datapath, ref)
			if q == nil {
				b.WriteString(" n/a |")
				continue
			}
			var rs []string
			for _, f := range pathFigures {
				rs = append(rs, ratio(summarize(f.get(p)).Median, summarize(f.get(q)).Median))
			}
			fmt.Fprintf(b, " %s |", strings.Join(rs, " / "))
		}
		b.WriteString("\n")
	}
	var cats []string
	tput := []Series{{Name: "TCP 1 stream"}, {Name: "TCP 4 streams"}}
	crrS := []Series{{Name: "connections/s"}}
	for _, p := range paths {
		cats = append(cats, shortPath(p.Key))
		tput[0].Values = append(tput[0].Values, summarize(p.Gbps1).Median)
		tput[1].Values = append(tput[1].Values, summarize(p.Gbps4).Median)
		crrS[0].Values = append(crrS[0].Values, summarize(p.CRR).Median)
	}
	if err := barChart(filepath.Join(plotDir, "throughput.svg"), "iperf3 TCP throughput (median)", "Gbit/s", cats, tput); err != nil {
		return err
	}
	if err := barChart(filepath.Join(plotDir, "connrate.svg"), "TCP connection rate, one at a time (median)", "connections/s", cats, crrS); err != nil {
		return err
	}
	fmt.Fprintf(b, "\n![throughput](%s/throughput.svg)\n\n![connection rate](%s/connrate.svg)\n\n", rel, rel)
	return nil
}

func shortPath(key string) string {
	return map[string]string{pathVethTxOn: "veth", pathVethTxOff: "veth\ntx off", pathNormal: "NORMAL\nsame node",
		pathSameNode: "SY\nsame node", pathNormalGeneve: "NORMAL\ngeneve", "cross-geneve": "SY\ngeneve",
		pathNormalVXLAN: "NORMAL\nvxlan", "cross-vxlan": "SY\nvxlan", pathNormalRouted: "NORMAL\nrouted",
		"cross-noencap": "SY\nnoEncap"}[key]
}

func (r *Report) controlPlaneSection(b *strings.Builder, plotDir, rel string) error {
	b.WriteString("## Control plane\n\n")
	s := r.ControlPlane
	if s == nil {
		b.WriteString("Not run in this run (`-only`).\n\n")
		return nil
	}
	fmt.Fprintf(b, "Services with %d endpoints each (ClusterIP, one TCP port, endpoints spread over 100 nodes) programmed into "+
		"a private OVS by the agent's proxy controller and flows Store (`cp-worker`). *Cold* is the agent start: informers "+
		"synced, every Service planned and staged, one Reconcile bundle. *Update* is one endpoint of one Service changed: "+
		"EndpointSlice update to the Service's bundle applied, timed once the store is quiet after the start (*resync after "+
		"start*: the informers' initial events make the workers sync every Service once more, with empty differences). *Arrivals*: Services created while the agent runs, "+
		"programmed one bundle each.\n\n", s.Endpoints)
	b.WriteString("| Services | flows | groups | cold s | cold CPU s | resync after start s | update p50 ms | update p99 ms | arrivals Services/s | agent-side RSS MB | ovs-vswitchd RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range s.Sizes {
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n,
			s.Figure(n, func(r *CPResult) float64 { return float64(r.Flows) }).cell("%.0f"),
			s.Figure(n, func(r *CPResult) float64 { return float64(r.Groups) }).cell("%.0f"),
			s.Figure(n, func(r *CPResult) float64 { return r.ColdSeconds }).cell("%.2f"),
			s.Figure(n, func(r *CPResult) float64 { return r.ColdCPUSeconds }).cell("%.2f"),
			s.Figure(n, func(r *CPResult) float64 { return r.ResyncSeconds }).cell("%.2f"),
			s.Figure(n, func(r *CPResult) float64 { return percentile(r.UpdateMillis, 50) }).cell("%.1f"),
			s.Figure(n, func(r *CPResult) float64 { return percentile(r.UpdateMillis, 99) }).cell("%.1f"),
			s.Figure(n, func(r *CPResult) float64 { return float64(r.Arrivals) / r.ArrivalSeconds }).cell("%.0f"),
			s.Figure(n, func(r *CPResult) float64 { return r.RSSMB }).cell("%.0f"),
			s.Figure(n, func(r *CPResult) float64 { return r.VswitchdRSSMB }).cell("%.0f"))
	}
	b.WriteString("\nNetworkPolicy programming has its own section below.\n\n")
	xs := make([]float64, len(s.Sizes))
	med := func(f func(*CPResult) float64) Series {
		var v []float64
		for _, n := range s.Sizes {
			v = append(v, s.Figure(n, f).Median)
		}
		return Series{Values: v}
	}
	for i, n := range s.Sizes {
		xs[i] = float64(n)
	}
	cold := med(func(r *CPResult) float64 { return r.ColdSeconds })
	cold.Name = "cold programming, s"
	cpu := med(func(r *CPResult) float64 { return r.ColdCPUSeconds })
	cpu.Name = "CPU during it, s"
	if err := lineChart(filepath.Join(plotDir, "cp-time.svg"), "Programming every Service (agent start)", "Services", "seconds", xs,
		[]Series{cold, cpu}); err != nil {
		return err
	}
	fl := med(func(r *CPResult) float64 { return float64(r.Flows) / 1000 })
	fl.Name = "flows, thousands"
	rss := med(func(r *CPResult) float64 { return r.RSSMB })
	rss.Name = "agent-side RSS, MB"
	vsw := med(func(r *CPResult) float64 { return r.VswitchdRSSMB })
	vsw.Name = "ovs-vswitchd RSS, MB"
	if err := lineChart(filepath.Join(plotDir, "cp-size.svg"), "Flows and memory as Services grow", "Services", "thousands / MB", xs,
		[]Series{fl, rss, vsw}); err != nil {
		return err
	}
	fmt.Fprintf(b, "![programming time](%s/cp-time.svg)\n\n![flows and memory](%s/cp-size.svg)\n\n", rel, rel)
	return nil
}
