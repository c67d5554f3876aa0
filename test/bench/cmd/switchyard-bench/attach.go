package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Attach benchmark variants, in report order.
var attachVariants = []string{"switchyard", "bridge", "floor"}

// AttachRun is one repetition of one variant in one mode: per-pod latencies of ADD and DEL.
type AttachRun struct {
	Add, Del []time.Duration
	Wall     time.Duration // the whole ADD phase (pods per second under concurrency)
	// AddCPU is the CPU time used during the ADD phase: by the whole machine (machineCPU, every process: plugins,
	// daemons, the harness) and by each of the node's daemons (Switchyard: ovs-vswitchd, ovsdb-server, agent).
	AddCPU map[string]time.Duration `json:",omitempty"`
	// DelVswitchd is what ovs-vswitchd's main thread did during the DEL phase (variants with an ovs-vswitchd).
	DelVswitchd *ThreadStates `json:",omitempty"`
}

// cpuPerAdd is the CPU time in ms that who used per ADD in a run (0 when not measured).
func cpuPerAdd(who string) func(AttachRun) float64 {
	return func(r AttachRun) float64 {
		if len(r.Add) == 0 {
			return 0
		}
		return float64(r.AddCPU[who]) / float64(time.Millisecond) / float64(len(r.Add))
	}
}

// AttachResult holds every repetition, by variant and mode ("sequential", "concurrent").
type AttachResult struct {
	Pods, Concurrency int
	MTU               int
	Runs              map[string]map[string][]AttachRun
}

// Figure reduces a variant's repetitions: f picks one number out of each run.
func (r *AttachResult) Figure(variant, mode string, f func(AttachRun) float64) Summary {
	var xs []float64
	for _, run := range r.Runs[variant][mode] {
		xs = append(xs, f(run))
	}
	return summarize(xs)
}

func addP(p float64) func(AttachRun) float64 {
	return func(r AttachRun) float64 { return percentile(ms(r.Add), p) }
}
func delP(p float64) func(AttachRun) float64 {
	return func(r AttachRun) float64 { return percentile(ms(r.Del), p) }
}

// Pod CIDRs of the attach benchmark's nodes (inside namespaces only).
const (
	attachSwitchyardCIDR = "10.251.0.0/22"
	attachBridgeCIDR     = "10.252.0.0/22"
	attachFloorCIDR      = "10.253.0.0/22"
)

// benchAttach measures pod attachment: for every repetition and variant a fresh node, then pods sequential
// ADDs, their DELs, and the same with conc workers. The variants take turns going first (repetition r starts with
// variant r mod 3), so a machine that gets slower or faster during a run does not favour one of them.
func benchAttach(ctx context.Context, bins *Binaries, pods, conc, reps int, logf func(string, ...any)) (*AttachResult, error) {
	res := &AttachResult{Pods: pods, Concurrency: conc, Runs: map[string]map[string][]AttachRun{}}
	for rep := 0; rep < reps; rep++ {
		for i := range attachVariants {
			v := attachVariants[(rep+i)%len(attachVariants)]
			var c cleanups
			a, mtu, err := newAttacher(ctx, &c, bins, v)
			if err != nil {
				c.run()
				return nil, fmt.Errorf("attach %s: %w", v, err)
			}
			if mtu != 0 {
				res.MTU = mtu
			}
			for _, mode := range []string{"sequential", "concurrent"} {
				workers := 1
				if mode == "concurrent" {
					workers = conc
				}
				r, err := attachRound(ctx, &c, a, pods, workers)
				if err != nil {
					c.run()
					return nil, fmt.Errorf("attach %s %s: %w", v, mode, err)
				}
				if res.Runs[v] == nil {
					res.Runs[v] = map[string][]AttachRun{}
				}
				res.Runs[v][mode] = append(res.Runs[v][mode], r)
				logf("attach rep %d %-10s %-10s ADD p50 %.1f ms p99 %.1f ms, DEL p50 %.1f ms p99 %.1f ms", rep+1, v, mode,
					percentile(ms(r.Add), 50), percentile(ms(r.Add), 99), percentile(ms(r.Del), 50), percentile(ms(r.Del), 99))
			}
			c.run()
		}
	}
	return res, nil
}

// newAttacher sets up a node for a variant and returns its attacher and pod MTU.
func newAttacher(ctx context.Context, c *cleanups, bins *Binaries, variant string) (attacher, int, error) {
	switch variant {
	case "switchyard":
		n, err := startSwitchyardNode(ctx, c, bins, attachSwitchyardCIDR)
		if err != nil {
			return nil, 0, err
		}
		a, err := newCNIAttacher(n.ns, n.conflist(), []string{bins.Dir}, filepath.Join(n.dir, "cni-cache"))
		if err != nil {
			return nil, 0, err
		}
		a.vswitchdCtl = n.ovs.VswitchdCtl()
		a.daemons = map[string]int{"ovs-vswitchd": n.ovs.VswitchdPID(), "ovsdb-server": n.ovs.DBServerPID(), "agent": n.agentPID()}
		return a, 0, nil
	case "bridge":
		nodeNS, err := newNetns(c, "b")
		if err != nil {
			return nil, 0, err
		}
		if err := sysctls(nodeNS, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
			return nil, 0, err
		}
		dir, err := tempDir(c, "sybnbr")
		if err != nil {
			return nil, 0, err
		}
		conf, err := writeBridgeConflist(dir, attachBridgeCIDR, 1500)
		if err != nil {
			return nil, 0, err
		}
		a, err := newCNIAttacher(nodeNS, conf, []string{bins.RefDir}, filepath.Join(dir, "cni-cache"))
		return a, 1500, err
	case "floor":
		nodeNS, err := newNetns(c, "f")
		if err != nil {
			return nil, 0, err
		}
		a, err := newFloorAttacher(nodeNS, attachFloorCIDR, 1500)
		return a, 1500, err
	}
	return nil, 0, fmt.Errorf("unknown variant %q", variant)
}

// attachRound creates pods namespaces (not timed), attaches them with workers in parallel, detaches them the same
// way, and deletes the namespaces.
func attachRound(ctx context.Context, parent *cleanups, a attacher, pods, workers int) (AttachRun, error) {
	var c cleanups
	defer c.run()
	ps := make([]*benchPod, pods)
	for i := range ps {
		n, err := newNetns(&c, "p")
		if err != nil {
			return AttachRun{}, err
		}
		ps[i] = &benchPod{name: fmt.Sprintf("pod-%d", i), ns: n, containerID: uniqueName("c")}
	}
	var r AttachRun
	var pids map[string]int
	if d, ok := a.(interface{ daemonPIDs() map[string]int }); ok {
		pids = d.daemonPIDs()
	}
	cpu := newCPUMeter(pids)
	if err := cpu.begin(); err != nil {
		return r, err
	}
	keepCoverage(a, workers, "before")
	t0 := time.Now()
	adds, err := parallel(ps, workers, func(p *benchPod) (time.Duration, error) { return a.add(ctx, p) })
	r.Wall = time.Since(t0)
	keepCoverage(a, workers, "after")
	r.Add = adds
	if used, cerr := cpu.end(); cerr == nil {
		r.AddCPU = used
	} else if err == nil {
		err = cerr
	}
	if err != nil {
		// Undo what was attached, then report.
		_, _ = parallel(ps, workers, func(p *benchPod) (time.Duration, error) { return a.del(ctx, p) })
		return r, err
	}
	// Not during the ADD phase: the sampling would count in the machine's CPU time, which is compared with the bridge
	// plugin's.
	var sampled func() *ThreadStates
	if pid := pids["ovs-vswitchd"]; pid != 0 {
		sampled = sampleThread(pid, pid, delSampleInterval)
	}
	r.Del, err = parallel(ps, workers, func(p *benchPod) (time.Duration, error) { return a.del(ctx, p) })
	if sampled != nil {
		r.DelVswitchd = sampled()
	}
	return r, err
}

// delSampleInterval is how often the DEL phase samples ovs-vswitchd's main thread.
const delSampleInterval = 2 * time.Millisecond

// parallel runs fn for every pod with the given number of workers and collects the durations; the first error
// is returned after every call finished.
func parallel(ps []*benchPod, workers int, fn func(*benchPod) (time.Duration, error)) ([]time.Duration, error) {
	work := make(chan *benchPod)
	var mu sync.Mutex
	var ds []time.Duration
	var first error
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				d, err := fn(p)
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("%s: %w", p.name, err)
				}
				if err == nil {
					ds = append(ds, d)
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range ps {
		work <- p
	}
	close(work)
	wg.Wait()
	return ds, first
}

// keepCoverage writes ovs-vswitchd's coverage counters (what its main thread did: reconfigurations, netlink
// requests, route dumps, ...) to the -agent-logs directory, when kept and the attacher has a vswitchd.
func keepCoverage(a attacher, workers int, when string) {
	ca, ok := a.(*cniAttacher)
	if agentLogDir == "" || !ok || ca.vswitchdCtl == "" {
		return
	}
	out, err := exec.Command("ovs-appctl", "-t", ca.vswitchdCtl, "coverage/show").CombinedOutput()
	if err != nil {
		out = append(out, []byte("\n"+err.Error())...)
	}
	name := fmt.Sprintf("coverage-%s-w%d-%s-%s.txt", ca.nodeNS, workers, when, time.Now().Format("150405.000"))
	_ = os.WriteFile(filepath.Join(agentLogDir, name), out, 0o644)
}
