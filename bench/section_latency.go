package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// steady is the latency section's load: requests filed at a fixed rate.
type steady struct {
	rate float64
	n    int
	// pass is API answered → issue created in Redmine (the proxy saw
	// Redmine's 201), per request; raw is each raw POST /issues.json at the
	// same rate.
	pass, raw []time.Duration
	// busy is the daemon's Redmine calls' durations summed over the load's
	// duration.
	busy float64
	// callsPer is the daemon's Redmine calls per request during the load.
	callsPer float64
}

// sectionLatencyOut files requests at half the measured throughput and
// measures how long after the API answered each issue exists in Redmine;
// then raw POSTs at the same rate.
func (e *env) sectionLatencyOut(ctx context.Context, r *report, dep *deployment) error {
	rate := r.full.pass.perSec() / 2
	n := min(max(r.n/5, 30), 100)
	s := steady{rate: rate, n: n}
	interval := time.Duration(float64(time.Second) / rate)
	logf("latency: %d requests at %.2f/s", n, rate)
	mark := e.proxy.mark()
	answered := make(map[string]time.Time, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	tick := time.NewTicker(interval)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, err := e.customers[i%len(e.customers)].create(ctx, dep.d.baseURL, fmt.Sprintf("régime %d", i))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			answered[req.Reference] = time.Now()
			mu.Unlock()
		}(i)
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		seen := 0
		var lat []time.Duration
		for _, c := range e.proxy.since(mark) {
			if t, ok := answered[c.reference]; ok && c.class == classCreate && c.status == 201 {
				seen++
				lat = append(lat, c.end.Sub(t))
			}
		}
		if seen >= n {
			s.pass = lat
			calls := e.proxy.since(mark)
			var sum time.Duration
			for _, c := range calls {
				sum += c.end.Sub(c.start)
			}
			s.busy = sum.Seconds() / calls[len(calls)-1].end.Sub(calls[0].start).Seconds()
			s.callsPer = float64(len(calls)) / float64(n)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d steady-load issues created after 5 minutes", seen, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rm := redmineAs{base: e.st.redmineURL, key: e.st.syncKey}
	tag := "RAWS-" + strings.ToUpper(randomHex(4))
	s.raw = make([]time.Duration, n)
	tick = time.NewTicker(interval)
	errs = make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t := time.Now()
			if err := rm.createIssue(ctx, e.st, fmt.Sprintf("%s-%04d", tag, i)); err != nil {
				errs <- err
			}
			s.raw[i] = time.Since(t)
		}(i)
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	r.out = s
	return nil
}

// back is the Redmine → client latency: a staff note saved through
// Redmine's REST API until the API shows it.
type back struct {
	pollInterval time.Duration
	notes        int
	pass, raw    []time.Duration
}

// sectionLatencyBack adds public staff notes (staff key, straight to
// Redmine) to mirrored issues at random moments of a poll interval and
// measures when each shows in GET /api/v1/requests/{id}; the raw figure is
// Redmine's own PUT. Polling only: the deployment's project has no webhook.
func (e *env) sectionLatencyBack(ctx context.Context, r *report, dep *deployment) error {
	const k = 10
	b := back{pollInterval: 10 * time.Second, notes: k, pass: make([]time.Duration, k), raw: make([]time.Duration, k)}
	staff := redmineAs{base: e.st.redmineURL, key: e.st.staffKey}
	c := e.customers[2]
	var ids []string
	var issues []int
	for i := 0; i < k; i++ {
		req, err := c.create(ctx, dep.d.baseURL, fmt.Sprintf("retour %d", i))
		if err != nil {
			return err
		}
		ids = append(ids, req.ID)
	}
	for _, id := range ids {
		is, err := c.waitMirrored(ctx, dep.d.baseURL, id, 2*time.Minute)
		if err != nil {
			return err
		}
		issues = append(issues, is)
	}
	time.Sleep(b.pollInterval) // the creations' own poll echoes are past
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(rand.Int64N(int64(b.pollInterval))))
			token := "Réponse " + randomHex(4)
			t := time.Now()
			if err := staff.addNote(ctx, issues[i], token); err != nil {
				errs <- err
				return
			}
			b.raw[i] = time.Since(t)
			for time.Since(t) < 2*time.Minute {
				req, err := c.get(ctx, dep.d.baseURL, ids[i])
				if err != nil {
					errs <- err
					return
				}
				for _, m := range req.Messages {
					if m.AuthorKind == "staff" && strings.Contains(m.Body, token) {
						b.pass[i] = time.Since(t)
						return
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			errs <- fmt.Errorf("staff note on issue %d not visible after 2 minutes", issues[i])
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	r.back = b
	return nil
}
