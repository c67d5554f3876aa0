package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// ThreadStates counts the samples of one thread's scheduler state during a phase: what ovs-vswitchd's main thread,
// which handles ports, flow bundles, unixctl commands and OVSDB changes one after the other, was doing.
type ThreadStates struct {
	Samples int
	Running int // R: on a CPU or waiting for one
	Blocked int // D: waiting in the kernel, uninterruptibly (a lock, an RCU grace period, I/O)
	Idle    int // S (and anything else): waiting for work
	// BlockedIn counts the Blocked samples by the innermost kernel functions of the thread's stack, e.g.
	// "synchronize_rcu_normal < packet_release < sock_close" (empty without the rights to read the stack).
	BlockedIn map[string]int `json:",omitempty"`
}

// share is n as a percentage of the samples.
func (t *ThreadStates) share(n int) float64 {
	if t == nil || t.Samples == 0 {
		return 0
	}
	return 100 * float64(n) / float64(t.Samples)
}

// sampleThread samples the state of thread tid of process pid every interval until the returned function is
// called, which returns the counts. Reading /proc costs the harness a few microseconds per sample.
func sampleThread(pid, tid int, interval time.Duration) (stop func() *ThreadStates) {
	dir := fmt.Sprintf("/proc/%d/task/%d/", pid, tid)
	states := &ThreadStates{BlockedIn: map[string]int{}}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			stat, err := os.ReadFile(dir + "stat")
			if err != nil {
				continue // the process is gone: nothing to count
			}
			states.Samples++
			switch threadState(string(stat)) {
			case 'R':
				states.Running++
			case 'D':
				states.Blocked++
				if stack, err := os.ReadFile(dir + "stack"); err == nil {
					states.BlockedIn[waitSite(string(stack), 3)]++
				}
			default:
				states.Idle++
			}
		}
	}()
	return func() *ThreadStates {
		close(quit)
		<-done
		return states
	}
}

// threadState is the state letter of a /proc/<pid>/task/<tid>/stat line: the field after the command name, which
// is in parentheses and may itself hold spaces and parentheses.
func threadState(stat string) byte {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return '?'
	}
	return stat[i+2]
}

// waitSite names the innermost depth functions of a /proc/<pid>/task/<tid>/stack dump ("[<0>] packet_release+0x1c/0x2f0"
// per line), innermost first.
func waitSite(stack string, depth int) string {
	var fns []string
	for _, line := range strings.Split(strings.TrimSpace(stack), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		fns = append(fns, strings.SplitN(f[1], "+", 2)[0])
		if len(fns) == depth {
			break
		}
	}
	if len(fns) == 0 {
		return "(unknown)"
	}
	return strings.Join(fns, " < ")
}

// mostBlockedIn is the wait site with the most samples over runs and its share of all their Blocked samples.
func mostBlockedIn(runs []*ThreadStates) (string, float64) {
	total, by := 0, map[string]int{}
	for _, r := range runs {
		if r == nil {
			continue
		}
		for site, n := range r.BlockedIn {
			by[site] += n
			total += n
		}
	}
	best := ""
	for site, n := range by {
		if best == "" || n > by[best] || (n == by[best] && site < best) {
			best = site
		}
	}
	if total == 0 {
		return "", 0
	}
	return best, 100 * float64(by[best]) / float64(total)
}
