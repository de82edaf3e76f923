package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"gonum.org/v1/plot/plotter"
)

// memSample is one reading of the daemon's memory during the steady load.
type memSample struct {
	at     time.Duration
	rssKiB int
	// heap is go_memstats_heap_inuse_bytes from the admin listener's
	// /metrics, or -1 when it could not be read.
	heap float64
}

// steadyMem is section 8's steady load.
type steadyMem struct {
	// failed says why the load stopped ("" when it ran through).
	failed   string
	duration time.Duration
	rate     float64
	filed    int
	failures int
	// mirrored counts the filed requests whose issue Redmine created within
	// drainBound after the load; drain is how long after the load's end the
	// last one came.
	mirrored int
	drain    time.Duration
	samples  []memSample
	// api is each API answer; lat each API answered → issue created.
	api, lat []time.Duration
	// calls are the daemon's Redmine calls from the load's start to its
	// last issue; gaveUp and listed as redmineTrouble counts them.
	calls          callCount
	gaveUp, listed int
}

// memEvery is how often the steady load samples the daemon's memory.
const memEvery = 10 * time.Second

// drainBound is how long after the steady load its last issues may take.
const drainBound = 5 * time.Minute

// growthThreshold is the fitted growth over the load (MiB) under which the
// verdict is "no growth" (the report says why).
const growthThreshold = 4.0

// warmFraction is the share of the load's first samples left out of the
// fit (the runtime growing to the load's working set is not a leak).
const warmFraction = 0.1

// sectionSteady files requests at half the full burst's throughput for d
// on the full burst's deployment, sampling its RSS and Go heap every
// memEvery, then waits until Redmine has every issue.
func (e *env) sectionSteady(ctx context.Context, r *report, dep *deployment, d time.Duration) error {
	s := &r.steadyMem
	s.duration = d
	if d <= 0 {
		return nil
	}
	s.rate = r.full.pass.perSec() / 2
	interval := time.Duration(float64(time.Second) / s.rate)
	logf("steady load: %.2f requests/s for %s, memory every %s", s.rate, d, memEvery)
	began := time.Now()
	sample := func() {
		m := memSample{at: time.Since(began), rssKiB: dep.d.rssKiB(), heap: -1}
		if mt, err := dep.d.scrape(ctx); err == nil {
			if v, ok := mt.sum("go_memstats_heap_inuse_bytes", ""); ok {
				m.heap = v
			}
		}
		s.samples = append(s.samples, m)
	}
	sample()
	mark := e.proxy.mark()
	var mu sync.Mutex
	var wg sync.WaitGroup
	refs := map[string]time.Time{}
	file := func(i int) {
		defer wg.Done()
		t := time.Now()
		req, err := e.customers[i%len(e.customers)].create(ctx, dep.d.baseURL, fmt.Sprintf("régime long %d", i))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			s.failures++
			return
		}
		s.api = append(s.api, time.Since(t))
		refs[req.Reference] = time.Now()
	}
	fileTick, memTick := time.NewTicker(interval), time.NewTicker(memEvery)
	end := time.NewTimer(d)
loop:
	for i := 0; ; {
		select {
		case <-ctx.Done():
			break loop
		case <-end.C:
			break loop
		case <-memTick.C:
			sample()
		case <-fileTick.C:
			wg.Add(1)
			go file(i)
			i++
			s.filed = i
		}
	}
	fileTick.Stop()
	memTick.Stop()
	wg.Wait()
	sample()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.failures > s.filed/20 {
		return fmt.Errorf("steady load: %d of %d API calls failed", s.failures, s.filed)
	}
	loadEnd := began.Add(d)
	wctx, cancel := context.WithTimeout(ctx, drainBound)
	defer cancel()
	for ref, answered := range refs {
		c, err := e.proxy.awaitCreated(wctx, ref)
		if err != nil {
			break
		}
		s.mirrored++
		s.lat = append(s.lat, c.end.Sub(answered))
		s.drain = max(s.drain, c.end.Sub(loadEnd))
	}
	calls := e.proxy.since(mark)
	s.calls = callCount{item: "request", items: max(s.filed, 1), byClass: countByClass(calls)}
	s.gaveUp, s.listed = redmineTrouble(calls)
	rss, heap := s.fit()
	logf("steady load: %d filed, %d mirrored; RSS slope %.3f MiB/min, heap slope %.3f MiB/min", s.filed, s.mirrored, rss, heap)
	return nil
}

// fitted returns the samples the fit uses: those after the warm-up.
func (s steadyMem) fitted() []memSample {
	var out []memSample
	for _, m := range s.samples {
		if m.at >= time.Duration(warmFraction*float64(s.duration)) {
			out = append(out, m)
		}
	}
	return out
}

// fit returns the least-squares slopes of RSS and of the Go heap in use,
// in MiB per minute, over the fitted samples.
func (s steadyMem) fit() (rss, heap float64) {
	var xs, ys, hx, hy []float64
	for _, m := range s.fitted() {
		xs, ys = append(xs, m.at.Minutes()), append(ys, float64(m.rssKiB)/1024)
		if m.heap >= 0 {
			hx, hy = append(hx, m.at.Minutes()), append(hy, m.heap/(1<<20))
		}
	}
	rss, _ = leastSquares(xs, ys)
	heap, _ = leastSquares(hx, hy)
	return rss, heap
}

// leastSquares fits y = a·x + b.
func leastSquares(xs, ys []float64) (a, b float64) {
	n := float64(len(xs))
	if n < 2 {
		return 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, sy / n
	}
	a = (n*sxy - sx*sy) / den
	return a, (sy - a*sx) / n
}

// swing is the spread (max − min, MiB) of the fitted samples' RSS and Go
// heap: how much one sample varies with no trend at all.
func (s steadyMem) swing() (rss, heap float64) {
	lo, hi, hlo, hhi := 1e18, 0.0, 1e18, 0.0
	for _, m := range s.fitted() {
		v := float64(m.rssKiB) / 1024
		lo, hi = min(lo, v), max(hi, v)
		if m.heap >= 0 {
			h := m.heap / (1 << 20)
			hlo, hhi = min(hlo, h), max(hhi, h)
		}
	}
	return max(hi-lo, 0), max(hhi-hlo, 0)
}

// memChart draws RSS and the Go heap over the load, with the RSS fit.
func (s steadyMem) memChart(path string) error {
	var rss, heap, fit plotter.XYs
	for _, m := range s.samples {
		rss = append(rss, plotter.XY{X: m.at.Minutes(), Y: float64(m.rssKiB) / 1024})
		if m.heap >= 0 {
			heap = append(heap, plotter.XY{X: m.at.Minutes(), Y: m.heap / (1 << 20)})
		}
	}
	var xs, ys []float64
	for _, m := range s.fitted() {
		xs, ys = append(xs, m.at.Minutes()), append(ys, float64(m.rssKiB)/1024)
	}
	if a, b := leastSquares(xs, ys); len(xs) >= 2 {
		fit = plotter.XYs{{X: xs[0], Y: a*xs[0] + b}, {X: xs[len(xs)-1], Y: a*xs[len(xs)-1] + b}}
	}
	return writeTimeChart(path, fmt.Sprintf("Memory of passerelle serve under %.2f requests/s for %s", s.rate, s.duration),
		"minutes into the load", "MiB",
		xySeries{name: "RSS (VmRSS)", pts: rss}, xySeries{name: "Go heap in use (go_memstats_heap_inuse_bytes)", pts: heap},
		xySeries{name: "RSS, least-squares fit", pts: fit, dashed: true})
}

// writeSteady is section 8's steady-load part.
func (r *report) writeSteady(b *bytes.Buffer) {
	s := r.steadyMem
	if s.duration <= 0 {
		b.WriteString("Steady load: skipped in this run (-steady 0; `make bench` runs 10 minutes).\n\n")
		return
	}
	if s.failed != "" {
		fmt.Fprintf(b, "Steady load: failed in this run (the run went on): %s.\n\n", s.failed)
		return
	}
	if len(s.samples) == 0 {
		return
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	maxRSS, maxHeap := 0, -1.0
	for _, m := range s.samples {
		maxRSS, maxHeap = max(maxRSS, m.rssKiB), max(maxHeap, m.heap)
	}
	slope, heapSlope := s.fit()
	minutes := s.duration.Minutes()
	growth, heapGrowth, t := slope*minutes, heapSlope*minutes, growthThreshold
	rssSwing, heapSwing := s.swing()
	gaveUp := ""
	if s.gaveUp > 0 {
		gaveUp = fmt.Sprintf(", and gave up on **%d** at redmine.timeout (Redmine answered nothing that long)", s.gaveUp)
	}
	verdict := func(g float64) string {
		if g < t {
			return "**no growth**"
		}
		return "**growth**"
	}
	mib := func(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
	heapMiB := func(v float64) string {
		if v < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	fmt.Fprintf(b, `**Steady load.** The same process, after the sections above: requests filed through the API at half the full
burst's throughput (%.2f/s, one every %s, by the 16 tenants in turn) for %s: %d filed (%d API errors), %d of
them in Redmine within %s after the load (the last %s after its end). Memory read every %s: RSS from /proc, and
go_memstats_heap_inuse_bytes from the admin listener's `+"`/metrics`"+` (app/routes.go; the Go collector of the
daemon's registry).

| | at the start | highest | at the end | slope (least squares) | growth over the load (slope × %s) | verdict |
| --- | --- | --- | --- | --- | --- | --- |
| RSS | %s | %s | %s | %.3f MiB/min | %.1f MiB | %s |
| Go heap in use | %s | %s | %s | %.3f MiB/min | %.1f MiB | %s |

The fit leaves out the load's first %.0f%% (%s: the runtime growing to the load's working set is not a leak).
The verdict is "no growth" when the fitted growth over the load is under %.0f MiB. A leak worth finding keeps
something of each request: %.0f MiB over these %d requests is %.2f KiB each, the size of what a request leaves in
memory if anything of it is kept (its fields, its River job's arguments, its acknowledgment mail: hundreds of bytes
to a few KiB each); a leak of less per request needs a longer run to show. The threshold is also above what a
sample varies by with no trend: the fitted samples' own spread was %.1f MiB of RSS and %.1f MiB of heap (a Go heap
swings by up to its live size between two collections, GOGC=100, and the scavenger returns freed
pages to the kernel minutes later; a fit over samples every %s averages that out). Requests took p50 %s,
p95 %s from the API's answer to their issue in Redmine; the API answered in p95 %s. The daemon made %.2f Redmine
calls per request meanwhile (%s; the most issues one list's window held: %d)%s.

![memory over the steady load](%s/steady-memory.png)

`, s.rate, time.Duration(float64(time.Second)/s.rate).Round(time.Millisecond), s.duration, s.filed, s.failures, s.mirrored,
		drainBound, s.drain.Round(time.Second), memEvery, s.duration,
		mib(first.rssKiB), mib(maxRSS), mib(last.rssKiB), slope, growth, verdict(growth),
		heapMiB(first.heap), heapMiB(maxHeap), heapMiB(last.heap), heapSlope, heapGrowth, verdict(heapGrowth),
		100*warmFraction, time.Duration(warmFraction*float64(s.duration)).Round(time.Second), t, t, s.filed,
		t*1024/float64(max(s.filed, 1)), rssSwing, heapSwing, memEvery, ms(percentile(s.lat, 50)), ms(percentile(s.lat, 95)), ms(percentile(s.api, 95)),
		s.calls.perItem(), s.calls.describe(), s.listed, gaveUp, chartDir)
}
