package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
