package main

import (
	"fmt"
	"math"
	"os"
	"strings"
)

// Simple SVG charts, written by hand: grouped bar charts and line charts with a logarithmic x axis.

// palette of the series.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// Series is one named set of values, one per category (bars) or per x (lines).
type Series struct {
	Name   string
	Values []float64
}

const (
	svgW, svgH                     = 760, 380
	padL, padR, padT, padB float64 = 70, 20, 40, 90
)

// svgDoc accumulates an SVG document.
type svgDoc struct{ b strings.Builder }

func newSVG(title string) *svgDoc {
	d := &svgDoc{}
	fmt.Fprintf(&d.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&d.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&d.b, `<text x="%d" y="22" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", svgW/2, esc(title))
	return d
}

func (d *svgDoc) text(x, y float64, anchor, s string, extra string) {
	fmt.Fprintf(&d.b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, extra, esc(s))
}

func (d *svgDoc) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	fmt.Fprintf(&d.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x1, y1, x2, y2, stroke, width)
}

// yAxis draws the y axis with gridlines from 0 to top, labelled with unit, and returns the scale.
func (d *svgDoc) yAxis(top float64, unit string) func(float64) float64 {
	plotH := svgH - padT - padB
	y := func(v float64) float64 { return svgH - padB - v/top*plotH }
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		d.line(padL, y(v), svgW-padR, y(v), "#ddd", 1)
		d.text(padL-6, y(v)+4, "end", trimNum(v), "")
	}
	d.line(padL, padT, padL, svgH-padB, "#333", 1)
	d.text(16, padT+plotH/2, "middle", unit, fmt.Sprintf(`transform="rotate(-90 16 %.1f)"`, padT+plotH/2))
	return y
}

func (d *svgDoc) legend(names []string) {
	x, y := padL, float64(svgH)-40
	for i, n := range names {
		w := 24 + float64(len(n))*6.5
		if x+w > svgW-padR && x > padL {
			x, y = padL, y+18
		}
		fmt.Fprintf(&d.b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y, palette[i%len(palette)])
		d.text(x+16, y+10, "start", n, "")
		x += w
	}
}

func (d *svgDoc) write(path string) error {
	d.b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(d.b.String()), 0o644)
}

// barChart writes a grouped bar chart: one group per category, one bar per series.
func barChart(path, title, unit string, categories []string, series []Series) error {
	d := newSVG(title)
	top := niceTop(maxOf(series))
	y := d.yAxis(top, unit)
	groupW := (svgW - padL - padR) / float64(len(categories))
	barW := groupW * 0.8 / float64(len(series))
	for ci, cat := range categories {
		gx := padL + groupW*float64(ci) + groupW*0.1
		for si, s := range series {
			if ci >= len(s.Values) || s.Values[ci] <= 0 {
				continue
			}
			v := s.Values[ci]
			x := gx + barW*float64(si)
			fmt.Fprintf(&d.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
				x, y(v), barW-2, svgH-padB-y(v), palette[si%len(palette)], esc(s.Name), trimNum(v))
			d.text(x+barW/2-1, y(v)-3, "middle", trimNum(v), `font-size="10"`)
		}
		for li, line := range strings.Split(cat, "\n") { // a category may take two lines
			d.text(gx+groupW*0.4, svgH-padB+16+14*float64(li), "middle", line, "")
		}
	}
	d.line(padL, svgH-padB, svgW-padR, svgH-padB, "#333", 1)
	names := make([]string, len(series))
	for i, s := range series {
		names[i] = s.Name
	}
	d.legend(names)
	return d.write(path)
}

// lineChart writes a line chart over xs on a logarithmic x axis.
func lineChart(path, title, xLabel, unit string, xs []float64, series []Series) error {
	d := newSVG(title)
	top := niceTop(maxOf(series))
	y := d.yAxis(top, unit)
	lo, hi := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	if hi == lo {
		hi = lo + 1
	}
	plotW := svgW - padL - padR
	x := func(v float64) float64 { return padL + 20 + (math.Log10(v)-lo)/(hi-lo)*(plotW-40) }
	d.line(padL, svgH-padB, svgW-padR, svgH-padB, "#333", 1)
	for _, v := range xs {
		d.line(x(v), svgH-padB, x(v), svgH-padB+4, "#333", 1)
		d.text(x(v), svgH-padB+16, "middle", trimNum(v), "")
	}
	d.text(padL+plotW/2, svgH-padB+34, "middle", xLabel, "")
	names := make([]string, len(series))
	for si, s := range series {
		names[si] = s.Name
		var pts []string
		for i, v := range s.Values {
			if i < len(xs) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(xs[i]), y(v)))
			}
		}
		color := palette[si%len(palette)]
		fmt.Fprintf(&d.b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		for i, v := range s.Values {
			if i < len(xs) {
				fmt.Fprintf(&d.b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s</title></circle>`+"\n",
					x(xs[i]), y(v), color, esc(s.Name), trimNum(v))
				d.text(x(xs[i])+5, y(v)-6, "start", trimNum(v), `font-size="10"`)
			}
		}
	}
	d.legend(names)
	return d.write(path)
}

func maxOf(series []Series) float64 {
	m := 0.0
	for _, s := range series {
		for _, v := range s.Values {
			m = math.Max(m, v)
		}
	}
	return m
}

// niceTop rounds m up to 1, 2 or 5 times a power of ten.
func niceTop(m float64) float64 {
	if m <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*p >= m*1.05 {
			return f * p
		}
	}
	return 10 * p
}

// trimNum prints a number compactly: 12345, 12.3, 1.23, 0.123.
func trimNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
