package main

import (
	"context"
	"fmt"
	"strings"
)

// CPSeries is the control plane benchmark: one cp-worker result per size and repetition.
type CPSeries struct {
	Endpoints int
	Sizes     []int
	Runs      map[int][]*CPResult
}

// Figure reduces the repetitions of one size.
func (s *CPSeries) Figure(n int, f func(*CPResult) float64) Summary { return figure(s.Runs[n], f) }

// figure reduces one figure of the repetitions of a size.
func figure[R any](runs []*R, f func(*R) float64) Summary {
	var xs []float64
	for _, r := range runs {
		xs = append(xs, f(r))
	}
	return summarize(xs)
}

// benchControlPlane runs a fresh cp-worker process (own OVS, own heap) per size and repetition, so that every
// figure, RSS included, belongs to one cluster size.
func benchControlPlane(ctx context.Context, sz Sizes, reps int, logf func(string, ...any)) (*CPSeries, error) {
	s := &CPSeries{Endpoints: sz.Endpoints, Sizes: sz.Services, Runs: map[int][]*CPResult{}}
	for rep := 0; rep < reps; rep++ {
		for _, n := range sz.Services {
			r, err := runCPWorker(ctx, n, sz.Endpoints, sz.Updates, min(n, 50))
			if err != nil {
				return nil, err
			}
			s.Runs[n] = append(s.Runs[n], r)
			logf("controlplane rep %d %5d Services: cold %.2f s (%.2f s CPU), %d flows, %d groups, RSS %.0f MB, update p50 %.1f ms p99 %.1f ms",
				rep+1, n, r.ColdSeconds, r.ColdCPUSeconds, r.Flows, r.Groups, r.RSSMB,
				percentile(r.UpdateMillis, 50), percentile(r.UpdateMillis, 99))
		}
	}
	if len(s.Runs) == 0 {
		return nil, fmt.Errorf("no control plane sizes")
	}
	return s, nil
}

// cpTargetSize is the size issue 5's Service targets name: 5,000 Services of 10 endpoints.
const cpTargetSize = 5000

// cpTargets adds the Service programming targets of the 5,000-Service size, when it was measured: full programming
// under 3 s, single-endpoint update p99 under 50 ms, agent RSS under 200 MB (the worst repetition decides).
func (r *Report) cpTargets(b *strings.Builder) {
	s := r.ControlPlane
	if s == nil || len(s.Runs[cpTargetSize]) == 0 {
		return
	}
	n := cpTargetSize
	cold := s.Figure(n, func(r *CPResult) float64 { return r.ColdSeconds })
	fmt.Fprintf(b, "| Services full programming < 3 s, %d Services x %d endpoints | %s s | %s |\n", n, s.Endpoints,
		cold.cell("%.2f"), limitCells(cold, 3))
	p99 := s.Figure(n, func(r *CPResult) float64 { return percentile(r.UpdateMillis, 99) })
	fmt.Fprintf(b, "| Services single-endpoint update (event to flows installed) p99 < 50 ms, %d Services | %s ms | %s |\n", n,
		p99.cell("%.1f"), limitCells(p99, 50))
	rss := s.Figure(n, func(r *CPResult) float64 { return r.RSSMB })
	fmt.Fprintf(b, "| Services agent RSS < 200 MB after programming %d Services (peak during the start: %s MB) | %s MB | %s |\n", n,
		s.Figure(n, func(r *CPResult) float64 { return r.PeakRSSMB }).cell("%.0f"), rss.cell("%.0f"), limitCells(rss, 200))
}
