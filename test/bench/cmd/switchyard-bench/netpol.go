package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// NPSeries is the NetworkPolicy benchmark: one np-worker result per size (pods; half as many policies) and
// repetition.
type NPSeries struct {
	Sizes    []int
	Headline int         // the size the targets are judged at
	Changes  map[int]int // single changes timed per kind, by size
	Runs     map[int][]*NPResult
}

// Figure reduces the repetitions of one size.
func (s *NPSeries) Figure(n int, f func(*NPResult) float64) Summary { return figure(s.Runs[n], f) }

// changeP returns the p-th percentile of one kind of change within a run.
func changeP(kind string, p float64) func(*NPResult) float64 {
	return func(r *NPResult) float64 { return percentile(r.ChangeMillis[kind], p) }
}

// worstP99 is the highest p99 over the kinds of change of a run.
func worstP99(r *NPResult) float64 {
	w := 0.0
	for _, k := range npChangeKinds {
		w = max(w, percentile(r.ChangeMillis[k], 99))
	}
	return w
}

// benchNetworkPolicy runs a fresh np-worker process (own OVS, own heap) per size and repetition.
func benchNetworkPolicy(ctx context.Context, sz Sizes, reps int, logf func(string, ...any)) (*NPSeries, error) {
	s := &NPSeries{Sizes: sz.PolicyPods, Headline: sz.PolicyHeadline, Changes: map[int]int{}, Runs: map[int][]*NPResult{}}
	for rep := 0; rep < reps; rep++ {
		for _, n := range sz.PolicyPods {
			s.Changes[n] = sz.PolicyChanges
			r, err := runNPWorker(ctx, n, s.Changes[n])
			if err != nil {
				return nil, err
			}
			s.Runs[n] = append(s.Runs[n], r)
			var lat []string
			for _, k := range npChangeKinds {
				lat = append(lat, fmt.Sprintf("%s %.1f/%.1f", k, percentile(r.ChangeMillis[k], 50), percentile(r.ChangeMillis[k], 99)))
			}
			logf("netpol rep %d %5d pods %5d policies: full sync %.2f s (%.2f s CPU), %d policy flows, %d conjunction actions, RSS %.0f MB; p50/p99 ms: %s",
				rep+1, r.Pods, r.Policies, r.ColdSeconds, r.ColdCPUSeconds, r.PolicyFlows, r.ConjActions, r.RSSMB, strings.Join(lat, ", "))
		}
	}
	if len(s.Runs) == 0 {
		return nil, fmt.Errorf("no NetworkPolicy sizes")
	}
	return s, nil
}

// npTargets are issue 6's targets, judged at the headline size (and the growth from it to the largest size).
func (r *Report) npTargets(b *strings.Builder) {
	s := r.NetworkPolicy
	if s == nil || len(s.Runs[s.Headline]) == 0 {
		return
	}
	h := s.Headline
	pol := s.Runs[h][0].Policies
	cold := s.Figure(h, func(r *NPResult) float64 { return r.ColdSeconds })
	fmt.Fprintf(b, "| NetworkPolicy full sync < 3 s, %d pods and %d policies | %s s | %s |\n", h, pol, cold.cell("%.2f"),
		limitCells(cold, 3))
	worst := s.Figure(h, worstP99)
	fmt.Fprintf(b, "| NetworkPolicy single change (event to flows installed) p99 < 100 ms, every kind of change | worst kind %s ms | %s |\n",
		worst.cell("%.1f"), limitCells(worst, 100))
	big := s.Sizes[len(s.Sizes)-1]
	if big > h && len(s.Runs[big]) > 0 {
		k := float64(big) / float64(h)
		flows := func(r *NPResult) float64 { return float64(r.PolicyFlows) }
		bigFlows, hFlows := s.Figure(big, flows), s.Figure(h, flows)
		fl := bigFlows.Median / hFlows.Median
		fmt.Fprintf(b, "| NetworkPolicy flows grow linearly, not with rules x peers (%d -> %d pods, rules x peers x%.0f) | policy flows x%.1f | %s |\n",
			h, big, k*k, fl, ratioCells(bigFlows, hFlows, func(x float64) bool { return x <= 1.5*k }))
	}
}

func (r *Report) netpolSection(b *strings.Builder, plotDir, rel string) error {
	b.WriteString("## NetworkPolicy programming\n\n")
	s := r.NetworkPolicy
	if s == nil {
		b.WriteString("Not run in this run (`-only`).\n\n")
		return nil
	}
	b.WriteString("A synthetic cluster (agent/networkpolicy/synthetic) of *N* pods and *N*/2 policies programmed into a private OVS by " +
		"the agent's networkpolicy controller and flows Store (`np-worker`): 100 pods per namespace, 40 per app label, 100 per " +
		"node (at least 10 nodes), so the measured node has about 100 local pods; namespaces in 3 teams. Policy *i* selects " +
		"one app of its namespace for ingress and egress; ingress from a role of its namespace and from a team's namespaces " +
		"(a third of the cluster) on a port, a port range and a named port; egress to the next app and a /16 on one port. " +
		"*Full sync* is the agent start: informers synced, every policy computed and staged, one Reconcile bundle. *Policy " +
		"flows* are the flows of the EgressRule and IngressRule tables; *conjunction actions* their `conjunction()` actions " +
		"(what grows with rules x peers when clauses are not shared).\n\n")
	b.WriteString("| pods | policies | local pods | policy flows | conjunction actions | full sync s | full sync CPU s | agent-side RSS MB | ovs-vswitchd RSS MB | runs |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range s.Sizes {
		runs := s.Runs[n]
		if len(runs) == 0 {
			continue
		}
		fmt.Fprintf(b, "| %d | %d | %d | %s | %s | %s | %s | %s | %s | %d |\n", n, runs[0].Policies, runs[0].LocalPods,
			s.Figure(n, func(r *NPResult) float64 { return float64(r.PolicyFlows) }).cell("%.0f"),
			s.Figure(n, func(r *NPResult) float64 { return float64(r.ConjActions) }).cell("%.0f"),
			s.Figure(n, func(r *NPResult) float64 { return r.ColdSeconds }).cell("%.2f"),
			s.Figure(n, func(r *NPResult) float64 { return r.ColdCPUSeconds }).cell("%.2f"),
			s.Figure(n, func(r *NPResult) float64 { return r.RSSMB }).cell("%.0f"),
			s.Figure(n, func(r *NPResult) float64 { return r.VswitchdRSSMB }).cell("%.0f"), len(runs))
	}
	b.WriteString("\nSingle changes, from the API call (client-go fake clientset) to the controller reporting the event's flows " +
		"installed (`Controller.Progress`: informer delivery, model, delta, flows, one bundle applied), one at a time; " +
		"p50 / p99 in ms within a run, then median (min–max) over runs. *policy update*: one port of a policy changes; " +
		"*policy create*: a policy like an existing one but for a new port; *policy delete*: that policy goes; *pod label*: " +
		"a pod moves to another app; *pod add* / *pod delete*: a pod (one in ten on this node) of a selected app; " +
		"*namespace label*: a namespace moves to another team.\n\n")
	b.WriteString("| change |")
	for _, n := range s.Sizes {
		fmt.Fprintf(b, " %d pods p50 | %d pods p99 |", n, n)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|---|", len(s.Sizes)) + "\n")
	for _, k := range npChangeKinds {
		fmt.Fprintf(b, "| %s |", k)
		for _, n := range s.Sizes {
			fmt.Fprintf(b, " %s | %s |", s.Figure(n, changeP(k, 50)).cell("%.1f"), s.Figure(n, changeP(k, 99)).cell("%.1f"))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nChanges timed per kind and run: ")
	var per []string
	for _, n := range s.Sizes {
		per = append(per, fmt.Sprintf("%d at %d pods", s.Changes[n], n))
	}
	b.WriteString(strings.Join(per, ", ") + " (a p99 of few samples is close to their maximum).\n\n")
	xs := make([]float64, len(s.Sizes))
	for i, n := range s.Sizes {
		xs[i] = float64(n)
	}
	med := func(name string, f func(*NPResult) float64) Series {
		v := Series{Name: name}
		for _, n := range s.Sizes {
			v.Values = append(v.Values, s.Figure(n, f).Median)
		}
		return v
	}
	if err := lineChart(filepath.Join(plotDir, "np-time.svg"), "NetworkPolicy full sync (agent start)", "pods (policies: half)", "seconds", xs,
		[]Series{med("full sync, s", func(r *NPResult) float64 { return r.ColdSeconds }),
			med("CPU during it, s", func(r *NPResult) float64 { return r.ColdCPUSeconds })}); err != nil {
		return err
	}
	if err := lineChart(filepath.Join(plotDir, "np-size.svg"), "NetworkPolicy flows and memory as the cluster grows", "pods (policies: half)", "thousands / MB", xs,
		[]Series{med("policy flows, thousands", func(r *NPResult) float64 { return float64(r.PolicyFlows) / 1000 }),
			med("conjunction actions, thousands", func(r *NPResult) float64 { return float64(r.ConjActions) / 1000 }),
			med("agent-side RSS, MB", func(r *NPResult) float64 { return r.RSSMB }),
			med("ovs-vswitchd RSS, MB", func(r *NPResult) float64 { return r.VswitchdRSSMB })}); err != nil {
		return err
	}
	var p99 []Series
	cats := make([]string, len(npChangeKinds))
	for i, k := range npChangeKinds {
		cats[i] = strings.Replace(k, " ", "\n", 1)
	}
	for _, n := range s.Sizes {
		v := Series{Name: fmt.Sprintf("%d pods", n)}
		for _, k := range npChangeKinds {
			v.Values = append(v.Values, s.Figure(n, changeP(k, 99)).Median)
		}
		p99 = append(p99, v)
	}
	if err := barChart(filepath.Join(plotDir, "np-change.svg"), "NetworkPolicy single change p99, event to flows installed (median of runs)", "ms",
		cats, p99); err != nil {
		return err
	}
	fmt.Fprintf(b, "![full sync](%s/np-time.svg)\n\n![flows and memory](%s/np-size.svg)\n\n![single changes](%s/np-change.svg)\n\n", rel, rel, rel)
	return nil
}
