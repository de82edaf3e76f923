package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// burst is one measured burst of issue creations.
type burst struct {
	label       string
	workers     int
	n           int
	concurrency int
	elapsed     time.Duration
	// createLat is each POST /issues.json's own duration (at the proxy for
	// the daemon, at the client for raw).
	createLat []time.Duration
	// apiLat is each customer-space POST /api/v1/requests' duration.
	apiLat []time.Duration
	// calls are the daemon's Redmine calls from the first API call to the
	// last creation.
	calls    []call
	rssMax   int
	failures int
	// mark is the proxy's mark when the burst began.
	mark int
}

func (b burst) perSec() float64 { return float64(b.n) / b.elapsed.Seconds() }

// rawBurst sends n raw POST /issues.json from a plain Go client at the
// given concurrency, as the sync user, straight to Redmine.
func rawBurst(ctx context.Context, st *stack, n, concurrency int) (burst, error) {
	rm := redmineAs{base: st.redmineURL, key: st.syncKey}
	tag := "RAW-" + strings.ToUpper(randomHex(4))
	b := burst{label: "raw", n: n, concurrency: concurrency, createLat: make([]time.Duration, n)}
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				err := rm.createIssue(ctx, st, fmt.Sprintf("%s-%04d", tag, i))
				b.createLat[i] = time.Since(t)
				if err != nil {
					mu.Lock()
					b.failures++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	b.elapsed = time.Since(start)
	if b.failures > n/20 {
		return b, fmt.Errorf("raw burst: %d of %d creations failed, first: %w", b.failures, n, firstErr)
	}
	return b, nil
}

// fileBurst files n requests through the daemon's API (clients at
// apiConcurrency) and waits until the proxy saw n issue creations for
// them. It records RSS every 200 ms.
func (e *env) fileBurst(ctx context.Context, dep *deployment, n, apiConcurrency int) (burst, error) {
	b := burst{label: "passerelle", workers: dep.workers, n: n, concurrency: dep.workers, apiLat: make([]time.Duration, n)}
	mark := e.proxy.mark()
	b.mark = mark
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if r := dep.d.rssKiB(); r > b.rssMax {
				b.rssMax = r
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for w := 0; w < apiConcurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := e.customers[w%len(e.customers)]
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				_, err := c.create(ctx, dep.d.baseURL, fmt.Sprintf("rafale %d", i))
				b.apiLat[i] = time.Since(t)
				if err != nil {
					mu.Lock()
					b.failures++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	if b.failures > 0 {
		close(stopRSS)
		<-rssDone
		return b, fmt.Errorf("burst: %d of %d API calls failed, first: %w", b.failures, n, firstErr)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		calls := e.proxy.since(mark)
		created, last := 0, time.Time{}
		for _, c := range calls {
			if c.status == 201 && strings.HasPrefix(c.reference, dep.prefix+"-") && c.class == classCreate {
				created++
				if c.end.After(last) {
					last = c.end
				}
			}
		}
		if created >= n {
			b.elapsed = last.Sub(start)
			for _, c := range calls {
				if !c.end.After(last) {
					b.calls = append(b.calls, c)
				}
				if c.class == classCreate && c.status == 201 {
					b.createLat = append(b.createLat, c.end.Sub(c.start))
				}
			}
			break
		}
		if time.Now().After(deadline) {
			close(stopRSS)
			<-rssDone
			return b, fmt.Errorf("burst: only %d of %d issues created after 15 minutes (log: %s)", created, n, dep.d.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stopRSS)
	<-rssDone
	return b, nil
}

// Call classes the sections look for.
const (
	classCreate   = "create issue (POST /issues.json)"
	classRead     = "read issue (GET /issues/N.json)"
	classSearch   = "search by custom field (GET /issues.json?cf_N=)"
	classList     = "list issues (GET /issues.json)"
	classListMore = "list issues, next page (GET /issues.json&offset=N)"
)

// percentile returns the p-th percentile (0..100) of ds (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(p/100*float64(len(s))+0.999999) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(s) {
		k = len(s) - 1
	}
	return s[k]
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// uniquePrefix is a reference prefix no other deployment uses ("B" and
// nine capitals: the config allows ten capitals or digits).
func uniquePrefix() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("B")
	for i := 0; i < 9; i++ {
		b = append(b, letters[rand.IntN(len(letters))])
	}
	return string(b)
}
