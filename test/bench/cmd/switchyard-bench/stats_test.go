package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {99, 10}, {10, 1}, {100, 10}, {0, 1}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{3, 1, 2, 10})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 10 {
		t.Errorf("summary %+v", s)
	}
	if got := s.cell("%.1f"); got != "2.5 (1.0–10.0)" {
		t.Errorf("cell %q", got)
	}
	if got := summarize([]float64{7}).cell("%.0f"); got != "7" {
		t.Errorf("single-run cell %q", got)
	}
	if got := ratio(1, 0); got != "n/a" {
		t.Errorf("ratio by zero %q", got)
	}
}

func TestNiceTop(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.9, 1}, {1.2, 2}, {42, 50}, {96, 100}, {0, 1}} {
		if got := niceTop(c.in); got != c.want {
			t.Errorf("niceTop(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The charts are well-formed SVG with one bar or point per value and escaped labels.
func TestCharts(t *testing.T) {
	dir := t.TempDir()
	bar := filepath.Join(dir, "bar.svg")
	if err := barChart(bar, "a <b>", "ms", []string{"x", "y"}, []Series{{"s1", []float64{1, 2}}, {"s2", []float64{3, 0}}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bar)
	if got := strings.Count(string(b), "<rect x="); got != 3+2 { // three bars (a zero is not drawn), two legend boxes
		t.Errorf("bar chart has %d rects:\n%s", got, b)
	}
	if !strings.Contains(string(b), "a &lt;b&gt;") || !strings.HasSuffix(string(b), "</svg>\n") {
		t.Errorf("bar chart not escaped or not closed:\n%s", b)
	}
	line := filepath.Join(dir, "line.svg")
	if err := lineChart(line, "t", "n", "s", []float64{100, 1000, 10000}, []Series{{"a", []float64{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(line)
	if got := strings.Count(string(b), "<circle"); got != 3 {
		t.Errorf("line chart has %d points", got)
	}
}

func TestThreadStateParsing(t *testing.T) {
	stat := "4242 (ovs-vswitchd (x)) D 1 4242 4242 0 -1 4194560 100"
	if got := threadState(stat); got != 'D' {
		t.Errorf("state of %q = %q, want D", stat, got)
	}
	if got := threadState("garbage"); got != '?' {
		t.Errorf("state of garbage = %q", got)
	}
	stack := "[<0>] synchronize_rcu_normal+0x10a/0x160\n[<0>] packet_release+0x2b6/0x4a0\n[<0>] sock_close+0x3c/0xb0\n[<0>] __fput+0xe6/0x2c0\n"
	if got, want := waitSite(stack, 3), "synchronize_rcu_normal < packet_release < sock_close"; got != want {
		t.Errorf("waitSite = %q, want %q", got, want)
	}
	if got := waitSite("", 3); got != "(unknown)" {
		t.Errorf("waitSite of nothing = %q", got)
	}
	runs := []*ThreadStates{{BlockedIn: map[string]int{"a < b": 3, "c": 1}}, nil, {BlockedIn: map[string]int{"c": 4}}}
	if site, pct := mostBlockedIn(runs); site != "c" || pct != 62.5 {
		t.Errorf("mostBlockedIn = %q %v, want c 62.5", site, pct)
	}
	if site, _ := mostBlockedIn(nil); site != "" {
		t.Errorf("mostBlockedIn of nothing = %q", site)
	}
}

func TestSampleThreadCountsEverySample(t *testing.T) {
	var st *ThreadStates
	for wait := 20 * time.Millisecond; wait < 10*time.Second; wait *= 2 { // a loaded machine may delay the ticker
		stop := sampleThread(os.Getpid(), os.Getpid(), time.Millisecond)
		time.Sleep(wait)
		if st = stop(); st.Samples > 0 {
			break
		}
	}
	if st.Samples == 0 || st.Running+st.Blocked+st.Idle != st.Samples {
		t.Errorf("samples %+v: none, or states that do not add up", st)
	}
}

func TestRepsMetPairsRepetitions(t *testing.T) {
	ratios := pairedRatios([]float64{8, 12, 10, 7}, []float64{10, 10, 0})
	if len(ratios) != 2 || ratios[0] != 0.8 || ratios[1] != 1.2 {
		t.Fatalf("pairedRatios = %v, want [0.8 1.2] (a zero baseline and an unpaired repetition skipped)", ratios)
	}
	if got := repsMet(ratios, func(x float64) bool { return x <= 1 }); got != "1 of 2" {
		t.Errorf("repsMet = %q, want 1 of 2", got)
	}
	if got := repsMet(nil, func(float64) bool { return true }); got != "n/a" {
		t.Errorf("repsMet of nothing = %q", got)
	}
}
