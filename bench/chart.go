package main

import (
	"fmt"
	"image/color"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// series is one named latency distribution of a chart.
type series struct {
	name string
	ds   []time.Duration
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// writeChart draws each distribution as latency against percentile (the
// sorted samples: the whole distribution, tails included) into a PNG.
func writeChart(path, title string, all ...series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.Add(plotter.NewGrid())
	for i, s := range all {
		if len(s.ds) == 0 {
			continue
		}
		sorted := append([]time.Duration(nil), s.ds...)
		sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
		pts := make(plotter.XYs, len(sorted))
		for k, d := range sorted {
			pts[k].X = 100 * float64(k+1) / float64(len(sorted))
			pts[k].Y = float64(d) / float64(time.Millisecond)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", s.name, len(s.ds)), l)
	}
	p.Legend.Top, p.Legend.Left = true, true
	if err := p.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("saving chart %s: %w", path, err)
	}
	return nil
}

// xySeries is one named line of a time chart.
type xySeries struct {
	name   string
	pts    plotter.XYs
	dashed bool
}

// writeTimeChart draws lines of y against x (minutes, MiB: the labels say)
// into a PNG.
func writeTimeChart(path, title, xLabel, yLabel string, all ...xySeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	for i, s := range all {
		if len(s.pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.pts)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	// Y starts at 0 and the lines sit high: the legend goes below them.
	p.Legend.Top, p.Legend.Left = false, false
	if err := p.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("saving chart %s: %w", path, err)
	}
	return nil
}
