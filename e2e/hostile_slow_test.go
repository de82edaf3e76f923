package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Read deadlines of the running binary (cmd/passerelle/serve.go and
// bridge/hooks_guard.go): the API's headers must be in within 10 s
// (ReadHeaderTimeout), a /hooks/redmine body within 10 s, a /hooks/inbound
// body within 30 s, and at most 4 inbound deliveries are read at once. The
// API's bodies have only the server's 2-minute ReadTimeout, too long to
// trickle here (and bounded per identity by limits.concurrent_uploads).
const (
	apiHeaderDeadline  = 10 * time.Second
	redmineHookReading = 10 * time.Second
	inboundHookReading = 30 * time.Second
	inboundSlots       = 4
	// cutMargin is what a busy machine may add to a deadline.
	cutMargin = 6 * time.Second
)

// Slow clients are cut by the read deadlines (the connection closed, or 408
// timeout) within a bound, and never stored; meanwhile the API answers
// others. Four slow inbound deliveries fill the hook's slots: a fifth is 503
// busy with Retry-After, and once the slow ones are cut a genuine delivery
// is stored.
func TestHostileSlowClients(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	tenant, tenantID := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	watcher, _ := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	req := tenant.create(e.base, "Demande à relancer "+tag, "Pour le crochet Redmine.")
	issue := tenant.waitIssue(e.base, req.ID, 60*time.Second)
	// The three run at once, from goroutines rather than t.Parallel: they
	// wait on deadlines, and -parallel (GOMAXPROCS) would queue them.
	var all sync.WaitGroup
	run := func(name string, f func(t *testing.T)) {
		all.Add(1)
		go func() { defer all.Done(); t.Run(name, f) }()
	}
	run("API headers trickled", func(t *testing.T) {
		stop := watchResponsive(t, watcher, e.base)
		rest := "X-Session-Token: " + tenant.token + "\r\nX-Lent: " + strings.Repeat("z", 60) + "\r\n\r\n"
		res := rawExchange(t, e.base, "GET /api/v1/me HTTP/1.1\r\nHost: "+hostPort(e.base)+"\r\n",
			trickled([]byte(rest), 250*time.Millisecond), apiHeaderDeadline+cutMargin)
		stop()
		t.Logf("headers at 4 B/s: %s after %s, %d of %d bytes sent", describeCut(res), res.took.Round(time.Millisecond), res.written, len(rest))
		checkCut(t, res, apiHeaderDeadline, int64(len(rest)), "")
	})
	run("Redmine hook body trickled", func(t *testing.T) {
		stop := watchResponsive(t, watcher, e.base)
		body := []byte(fmt.Sprintf(`{"payload":{"issue":{"id":%d}},"pad":"%s"}`, issue, strings.Repeat("p", 120)))
		head := requestHead(e.base, http.MethodPost, "/hooks/redmine?token="+url.QueryEscape(e.redmineSecret),
			map[string]string{"Content-Type": "application/json", "Content-Length": strconv.Itoa(len(body))})
		res := rawExchange(t, e.base, head, trickled(body, 200*time.Millisecond), redmineHookReading+cutMargin)
		stop()
		t.Logf("Redmine hook body at 5 B/s: %s after %s, %d of %d bytes sent", describeCut(res), res.took.Round(time.Millisecond), res.written, len(body))
		checkCut(t, res, redmineHookReading, int64(len(body)), "timeout")
	})
	run("inbound deliveries trickled fill the slots, then are cut", func(t *testing.T) {
		stop := watchResponsive(t, watcher, e.base)
		var wg, started sync.WaitGroup
		results := make([]rawResult, inboundSlots)
		sizes := make([]int, inboundSlots)
		started.Add(inboundSlots)
		for i := 0; i < inboundSlots; i++ {
			dl := e.signed(inboundRequest(tenantID, fmt.Sprintf("Livraison lente %d %s", i, tag), strings.Repeat("lent ", 30)))
			sizes[i] = len(dl.body)
			head := requestHead(e.base, http.MethodPost, "/hooks/inbound", map[string]string{"Content-Type": "application/json",
				"Content-Length": strconv.Itoa(len(dl.body)), "webhook-id": dl.id, "webhook-timestamp": dl.ts, "webhook-signature": dl.sig})
			feed, first := trickled(dl.body, 250*time.Millisecond), sync.OnceFunc(started.Done)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = rawExchange(t, e.base, head, func(w io.Writer) error {
					return feed(writerFunc(func(p []byte) (int, error) { n, err := w.Write(p); first(); return n, err }))
				}, inboundHookReading+cutMargin)
			}(i)
		}
		// Each slow delivery's headers are in (the server takes a slot once
		// it has read them) before a fifth one is tried: signed but
		// malformed, so that, read, it would be refused 400 and store
		// nothing; 503 busy when the slots are full.
		started.Wait()
		time.Sleep(time.Second)
		var busy hResp
		ok := eventually(5*time.Second, func() (bool, string) {
			busy = e.postInbound(e.signed([]byte(`{"type":"request","identity":{"id":"` + tenantID + `"},"inconnu":1}`)))
			return busy.status == http.StatusServiceUnavailable, ""
		})
		if !ok || !busy.check(t, "a fifth delivery while four are trickled", refusal{503, "busy", ""}) || busy.header.Get("Retry-After") == "" {
			t.Errorf("a fifth inbound delivery while %d are read: %s (Retry-After %q), want 503 busy with Retry-After", inboundSlots, busy, busy.header.Get("Retry-After"))
		}
		wg.Wait()
		for i, res := range results {
			t.Logf("inbound delivery %d at 4 B/s: %s after %s, %d of %d bytes sent", i, describeCut(res), res.took.Round(time.Millisecond), res.written, sizes[i])
			checkCut(t, res, inboundHookReading, int64(sizes[i]), "timeout")
		}
		// The slots are free again: a genuine delivery is read and stored.
		dl := e.signed(inboundRequest(tenantID, "Livraison après les lentes "+tag, "Arrivée d'un trait."))
		if r := e.postInbound(dl); r.status != http.StatusCreated {
			t.Errorf("a genuine delivery once the slow ones were cut: %s, want 201", r)
		}
		stop()
	})
	all.Wait()

	var slowStored []string
	for _, r := range tenant.list(e.base) {
		if strings.HasPrefix(r.Subject, "Livraison lente") {
			slowStored = append(slowStored, r.Reference)
		}
	}
	if len(slowStored) != 0 {
		t.Errorf("the trickled deliveries were stored: %v", slowStored)
	}
	e.settleRedmine(2) // the request, and the genuine delivery after the slow ones
}

// checkCut fails the test unless the slow client was cut (the connection
// closed, or 408 with code when code is not "") within deadline+cutMargin,
// before it had sent all of its size bytes.
func checkCut(t *testing.T, res rawResult, deadline time.Duration, size int64, code string) {
	t.Helper()
	cut := res.closed || (res.resp.err == nil && res.resp.status == http.StatusRequestTimeout &&
		(code == "" || res.resp.apiErr().Error.Code == code))
	if !cut || res.took > deadline+cutMargin || res.written >= size {
		t.Errorf("slow client: %s after %s with %d of %d bytes sent; want the connection closed or 408 %s within %s, before it was all sent",
			describeCut(res), res.took.Round(time.Millisecond), res.written, size, code, deadline+cutMargin)
	}
}

// writerFunc is a function as an io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func describeCut(res rawResult) string {
	if res.closed {
		return "connection closed by the server (" + res.resp.err.Error() + ")"
	}
	return res.resp.String()
}

func hostPort(base string) string {
	u, _ := url.Parse(base)
	return u.Host
}

// watchResponsive calls GET /api/v1/me as c every half second until stop is
// called, which fails the test if a call failed or took over 5 s: the
// server answers others while slow clients hold connections.
func watchResponsive(t *testing.T, c *customer, base string) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var (
		mu       sync.Mutex
		worst    time.Duration
		calls    int
		failures []string
	)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			start := time.Now()
			r := c.getRaw(base, "/api/v1/me")
			took := time.Since(start)
			mu.Lock()
			calls++
			if took > worst {
				worst = took
			}
			if r.err != nil || r.status != http.StatusOK {
				failures = append(failures, r.String())
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
			mu.Lock()
			defer mu.Unlock()
			t.Logf("meanwhile another client's GET /api/v1/me: %d calls, slowest %s", calls, worst.Round(time.Millisecond))
			if len(failures) > 0 || worst > 5*time.Second {
				t.Errorf("while a slow client was held, another client's GET /api/v1/me failed %d time(s) %v, slowest %s", len(failures), failures, worst)
			}
		})
	}
}
