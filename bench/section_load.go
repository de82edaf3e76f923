package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadFactors are section 9's load levels: k× is k × apiConcurrency
// clients at once.
var loadFactors = []int{1, 4, 16}

// loadLevel is one load level of section 9: the same number of clients
// filing through the daemon and posting raw to Redmine, one after the
// other.
type loadLevel struct {
	factor, clients, n int
	// pass: each client files a request and waits until Redmine answered
	// 201 to its issue's creation (seen at the proxy) before filing the
	// next; lat is the client's call → issue created, api the API's answer.
	pass struct {
		elapsed  time.Duration
		lat, api []time.Duration
	}
	// raw: each client posts POST /issues.json and waits for the answer.
	raw burst
	// calls are the daemon's Redmine calls during its part, by kind.
	calls callCount
	// gaveUp counts those the daemon cancelled (its redmine.timeout: the
	// proxy answered 502), listed the most issues a list's window held.
	gaveUp, listed int
}

func (l loadLevel) passPerSec() float64 { return float64(l.n) / l.pass.elapsed.Seconds() }

// sectionLoad measures throughput and client → Redmine latency at each
// load level on a deployment of its own (workers as the full burst's), with
// its raw counterpart at the same concurrency just before.
func (e *env) sectionLoad(ctx context.Context, r *report, perLevel, workers int) error {
	if perLevel <= 0 {
		return nil
	}
	dep, err := e.newDeployment(ctx, workers)
	if err != nil {
		return err
	}
	defer dep.d.stop()
	for _, f := range loadFactors {
		l := loadLevel{factor: f, clients: f * apiConcurrency}
		l.n = max(perLevel, l.clients)
		// The poller's echo reads of the previous issues come within a poll
		// interval: let them pass before the raw burst.
		e.waitQuiet(e.proxy.mark(), 12*time.Second, 3*time.Minute)
		logf("load %d×: %d clients, %d requests each side", f, l.clients, l.n)
		if l.raw, err = rawBurst(ctx, e.st, l.n, l.clients); err != nil {
			return fmt.Errorf("load %d×: %w", f, err)
		}
		if err := e.closedLoop(ctx, dep, &l); err != nil {
			return fmt.Errorf("load %d×: %w", f, err)
		}
		logf("  passerelle %.2f/s p95 %s, raw %.2f/s p95 %s", l.passPerSec(), ms(percentile(l.pass.lat, 95)),
			l.raw.perSec(), ms(percentile(l.raw.createLat, 95)))
		r.load = append(r.load, l)
	}
	return nil
}

// closedLoop runs l.clients clients through the daemon's API until l.n
// requests have their issue in Redmine.
func (e *env) closedLoop(ctx context.Context, dep *deployment, l *loadLevel) error {
	l.pass.lat, l.pass.api = make([]time.Duration, l.n), make([]time.Duration, l.n)
	mark := e.proxy.mark()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	var last time.Time
	for w := 0; w < l.clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := e.customers[w%len(e.customers)]
			for {
				i := int(next.Add(1)) - 1
				if i >= l.n {
					return
				}
				t := time.Now()
				req, err := c.create(ctx, dep.d.baseURL, fmt.Sprintf("charge %d× %d", l.factor, i))
				l.pass.api[i] = time.Since(t)
				if err == nil {
					wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
					var created call
					created, err = e.proxy.awaitCreated(wctx, req.Reference)
					cancel()
					l.pass.lat[i] = created.end.Sub(t)
					mu.Lock()
					if created.end.After(last) {
						last = created.end
					}
					mu.Unlock()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	l.pass.elapsed = last.Sub(start)
	var calls []call
	for _, c := range e.proxy.since(mark) {
		if !c.end.After(last) {
			calls = append(calls, c)
		}
	}
	l.calls = callCount{item: "request", items: l.n, byClass: countByClass(calls)}
	l.gaveUp, l.listed = redmineTrouble(calls)
	return nil
}

// redmineTrouble counts the calls the daemon gave up on (the proxy answers
// 502 when its client cancels, at redmine.timeout) and the most issues one
// of its lists' windows held.
func redmineTrouble(calls []call) (gaveUp, listed int) {
	for _, c := range calls {
		if c.status == http.StatusBadGateway {
			gaveUp++
		}
		listed = max(listed, c.total)
	}
	return gaveUp, listed
}

// writeLoad is section 9's table of throughput and latency against load.
func (r *report) writeLoad(b *bytes.Buffer) {
	if len(r.load) == 0 {
		if r.loadFailed != "" {
			fmt.Fprintf(b, "Throughput and p95 against load: failed in this run (the run went on): %s.\n\n", r.loadFailed)
			return
		}
		b.WriteString("Throughput and p95 against load: skipped in this run (-load-n 0).\n\n")
		return
	}
	base := r.load[0]
	fmt.Fprintf(b, `**Against load.** Load k× is %d × k clients at once (1× is the full burst's %d; the clients share the 16 tenants'
session cookies, k each), on a deployment of its own at redmine.workers = %d. Each client files a request through `+"`POST /api/v1/requests`"+` and waits until Redmine has
answered 201 to its issue's creation (seen at the proxy; or, after a call the daemon gave up waiting for, its search
by reference found the issue that call created) before filing the next: the closed loop a raw Redmine
client runs, so both sides hold as many requests in flight. Raw: the same number of clients each sending
`+"`POST /issues.json`"+` straight to Redmine and waiting for its answer, just before. Each level files max(-load-n,
clients) requests each side (%d here at 1×); throughput is requests / (first call → last issue created);
latency is the client's call → its issue created in Redmine (raw: the POST's own time). In brackets, each figure
over its value at 1×: how it grows.

| load | clients | requests | Passerelle issues/s | raw issues/s | ratio | Passerelle p95 client → Redmine | raw p95 | API answer p95 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
`, apiConcurrency, apiConcurrency, r.full.workers, base.n)
	grow := func(v, v0 float64) string { return fmt.Sprintf("(%.2f×)", v/max(v0, 1e-9)) }
	p95s := func(l loadLevel) (p, raw, api time.Duration) {
		return percentile(l.pass.lat, 95), percentile(l.raw.createLat, 95), percentile(l.pass.api, 95)
	}
	b0, r0, a0 := p95s(base)
	for _, l := range r.load {
		p95, raw95, api95 := p95s(l)
		fmt.Fprintf(b, "| %d× | %d | %d | %.2f %s | %.2f %s | %.2f | %s %s | %s %s | %s %s |\n",
			l.factor, l.clients, l.n, l.passPerSec(), grow(l.passPerSec(), base.passPerSec()),
			l.raw.perSec(), grow(l.raw.perSec(), base.raw.perSec()), l.passPerSec()/l.raw.perSec(),
			ms(p95), grow(float64(p95), float64(b0)), ms(raw95), grow(float64(raw95), float64(r0)),
			ms(api95), grow(float64(api95), float64(a0)))
	}
	b.WriteString("\nPasserelle's Redmine calls per request during each level (at the proxy, the poller's included):\n\n")
	for _, l := range r.load {
		fmt.Fprintf(b, "- %d×: %.2f (%s); the most issues one list's window held: %d", l.factor, l.calls.perItem(), l.calls.describe(), l.listed)
		if l.gaveUp > 0 {
			fmt.Fprintf(b, "; **%d calls given up** at redmine.timeout (Redmine answered nothing that long)", l.gaveUp)
		}
		b.WriteString(".\n")
	}
	if r.loadFailed != "" {
		fmt.Fprintf(b, "\nThe next level failed in this run (the run went on): %s.\n", r.loadFailed)
	}
	last := r.load[len(r.load)-1]
	_, _, aN := p95s(last)
	fmt.Fprintf(b, `
Redmine processes one request at a time (Rack::Lock), so no throughput grows past keeping it busy, whatever the
clients (what differs between levels is this shared machine's noise and, at 16×, a level that is one wave of
requests); the latency of both sides grows with the queue in front of Redmine (about clients / throughput). The raw clients queue at Redmine itself; the
daemon's queue is its outbox, drained by its %d workers. The API answers once the request is stored, before its
issue exists: its p95 (last column, %s at 1×, %s at %d×) is the daemon's own cost under that many clients (the
Kratos session check and the database writes of each call, on the same CPUs as Redmine).

![load growth](%s/load-growth.png)

`, r.full.workers, ms(a0), ms(aN), last.factor, chartDir)
}

// loadSeries is the chart of section 9's load levels: client → Redmine
// latency at each level, both sides.
func (r *report) loadSeries() []series {
	var out []series
	levels := r.load
	if len(levels) > 2 {
		levels = []loadLevel{levels[0], levels[len(levels)-1]}
	}
	for _, l := range levels {
		out = append(out, series{fmt.Sprintf("Passerelle %d×: call → issue in Redmine", l.factor), l.pass.lat},
			series{fmt.Sprintf("raw %d×: POST /issues.json", l.factor), l.raw.createLat})
	}
	return out
}
