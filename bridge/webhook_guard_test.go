package bridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/internal/hookguard"
	"passerelle/internal/hookguard/hookguardtest"
	"passerelle/kratos"
)

// Tests of the hooks' bounds against callers who are not authenticated
// (internal/hookguard, used by both): nothing is read before the headers pass, bodies are
// capped, a concurrency cap answers 503 and slow bodies are cut off. They run
// on the real stack (the harness's database, Kratos), on a server whose
// listener counts the bytes the server read from each connection.

// inboundRig posts to both hooks of the harness: the customer space's
// POST /hooks/inbound (signed deliveries) and the bridge's POST /hooks/redmine.
type inboundRig struct {
	h      *harness
	pool   *pgxpool.Pool
	secret string
}

func newInboundRig(t *testing.T) *inboundRig {
	t.Helper()
	h := newHarness(t, harnessOpts{noStart: true})
	return &inboundRig{h: h, pool: h.pool, secret: h.cfg.Webhooks.InboundSecret.Reveal()}
}

// count runs a count(*) query.
func (g *inboundRig) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := g.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// guardedServer is the harness's hooks on a counting listener (both, as
// app/routes.go mounts them); tweak may lower their bounds before
// they serve.
func (g *inboundRig) guardedServer(t *testing.T, tweak func(*bridge.Hooks, *espaceclient.Inbound)) (addr string, read *atomic.Int64) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	// The two hooks as app's routes.go mounts them, on the app's store and
	// bridge, but built here to lower their bounds (no reload happens: a
	// holder of the configuration in force serves).
	holder := config.NewHolder(g.h.app.Config())
	svc := espaceclient.NewService(g.h.store, holder, g.h.bridge.Outbox(), time.Now)
	inbound := espaceclient.NewInbound(svc, kratos.NewDirectory(g.h.cfg.Kratos.AdminURL, nil), log)
	hooks := bridge.NewHooks(g.h.bridge, holder, log)
	if tweak != nil {
		tweak(hooks, inbound)
	}
	mux := http.NewServeMux()
	inbound.Register(mux)
	hooks.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	read = new(atomic.Int64)
	srv.Listener = hookguardtest.CountingListener{Listener: srv.Listener, Read: read}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), read
}

// storedTotals counts every request, message and delivery of the rig's
// database (its own: nothing else writes there).
func (g *inboundRig) storedTotals(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("requests=%d messages=%d deliveries=%d",
		g.count(t, `SELECT count(*) FROM requests`), g.count(t, `SELECT count(*) FROM messages`),
		g.count(t, `SELECT count(*) FROM inbound_deliveries`))
}

// signedHeaders are Standard Webhooks headers of id, signed over body.
func (g *inboundRig) signedHeaders(id string, stamp time.Time, body []byte) map[string]string {
	ts := strconv.FormatInt(stamp.Unix(), 10)
	return map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": espaceclient.SignStandardWebhook(g.secret, id, ts, body)}
}

// A post that cannot be authentic from its headers alone is refused before
// its body is read: the server reads a few KB of a 30 MiB post. A signed post
// over the cap is refused 413 (before reading when its length is declared,
// at the cap when it is chunked). Nothing is stored.
func TestHooksRefuseBeforeReadingTheBody(t *testing.T) {
	g := newInboundRig(t)
	addr, read := g.guardedServer(t, nil)
	limit := espaceclient.InboundBodyLimit(g.h.cfg)
	const big = 30 << 20
	now := time.Now()
	cases := []struct {
		name string
		post hookguardtest.Post
		// wantStatus and wantCode: the answer; maxRead: the bound on what the server read.
		wantStatus int
		wantCode   string
		maxRead    int64
	}{
		{"inbound, no signature headers", hookguardtest.Post{Path: "/hooks/inbound", Size: big}, 401, "bad_signature", 1 << 20},
		{"inbound, stale timestamp", hookguardtest.Post{Path: "/hooks/inbound", Size: big,
			Header: g.signedHeaders("msg_stale", now.Add(-time.Hour), nil)}, 401, "bad_signature", 1 << 20},
		{"inbound, timestamp far in the future", hookguardtest.Post{Path: "/hooks/inbound", Size: big,
			Header: map[string]string{"webhook-id": "msg_x", "webhook-timestamp": "9223372036854775807", "webhook-signature": "v1,AAAA"}}, 401, "bad_signature", 1 << 20},
		{"inbound, signature not base64 of 32 bytes", hookguardtest.Post{Path: "/hooks/inbound", Size: big,
			Header: map[string]string{"webhook-id": "msg_x", "webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": "v1,AAAA"}}, 401, "bad_signature", 1 << 20},
		{"inbound, unsigned and chunked", hookguardtest.Post{Path: "/hooks/inbound", Size: big, Chunked: true}, 401, "bad_signature", 1 << 20},
		{"inbound, signed but over the cap (declared length)", hookguardtest.Post{Path: "/hooks/inbound", Size: big,
			Header: g.signedHeaders("msg_big_declared", now, nil)}, 413, "too_large", 1 << 20},
		{"inbound, signed but over the cap (chunked)", hookguardtest.Post{Path: "/hooks/inbound", Size: big, Chunked: true,
			Header: g.signedHeaders("msg_big_chunked", now, nil)}, 413, "too_large", limit + 1<<20},
		{"redmine, no token", hookguardtest.Post{Path: "/hooks/redmine", Size: big}, 401, "unauthenticated", 1 << 20},
		{"redmine, wrong token", hookguardtest.Post{Path: "/hooks/redmine?token=wrong", Size: big}, 401, "unauthenticated", 1 << 20},
		{"redmine, malformed signature", hookguardtest.Post{Path: "/hooks/redmine", Size: big,
			Header: map[string]string{"X-Redmine-Signature-256": "sha256=00"}}, 401, "unauthenticated", 1 << 20},
		{"redmine, good token but over the cap", hookguardtest.Post{Path: "/hooks/redmine?token=" + url.QueryEscape(g.h.cfg.Webhooks.RedmineSecret.Reveal()),
			Size: big}, 413, "too_large", 1 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			read.Store(0)
			res := c.post.Do(t, addr)
			if res.Err != nil {
				t.Fatalf("no answer: %v (client wrote %d bytes)", res.Err, res.Sent)
			}
			if res.Status != c.wantStatus || !strings.Contains(res.Body, `"code":"`+c.wantCode+`"`) {
				t.Fatalf("HTTP %d %s; want %d %s", res.Status, res.Body, c.wantStatus, c.wantCode)
			}
			if got := read.Load(); got > c.maxRead {
				t.Errorf("the server read %d bytes of a %d-byte post before refusing it; want at most %d", got, int64(big), c.maxRead)
			}
			t.Logf("server read %d bytes, client wrote %d", read.Load(), res.Sent)
			if after := g.storedTotals(t); after != before {
				t.Errorf("stored something: %s → %s", before, after)
			}
		})
	}
}

// Past the concurrency cap a delivery is answered 503 with Retry-After at
// once, without reading it; when a slot frees, deliveries go through again.
func TestHooksConcurrencyCap(t *testing.T) {
	g := newInboundRig(t)
	var hooks *bridge.Hooks
	var inbound *espaceclient.Inbound
	addr, _ := g.guardedServer(t, func(h *bridge.Hooks, in *espaceclient.Inbound) {
		in.Bounds().Slots, h.Bounds().Slots = hookguard.NewSlots(1), hookguard.NewSlots(1)
		hooks, inbound = h, in
	})
	token := url.QueryEscape(g.h.cfg.Webhooks.RedmineSecret.Reveal())
	cases := []struct {
		name  string
		slots func() hookguard.Slots
		// held is the post that takes the only slot; next is refused, then accepted.
		held, next hookguardtest.Post
		wantAfter  int
	}{
		{"inbound", func() hookguard.Slots { return inbound.Bounds().Slots },
			hookguardtest.Post{Path: "/hooks/inbound", Size: 1000, Header: g.signedHeaders("msg_"+uniqueName("held"), time.Now(), nil)},
			hookguardtest.Post{Path: "/hooks/inbound", Size: 10, Header: g.signedHeaders("msg_"+uniqueName("next"), time.Now(), nil)}, 401},
		{"redmine", func() hookguard.Slots { return hooks.Bounds().Slots },
			hookguardtest.Post{Path: "/hooks/redmine?token=" + token, Size: 1000},
			hookguardtest.Post{Path: "/hooks/redmine?token=" + token, Size: 10}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			held := c.held
			held.Hold = make(chan struct{})
			heldDone := make(chan hookguardtest.Result, 1)
			go func() { heldDone <- held.Do(t, addr) }()
			g.h.waitFor("the held post to take the slot", 10*time.Second, func() bool { return len(c.slots()) == 1 })
			res := c.next.Do(t, addr)
			if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, `"code":"busy"`) {
				t.Errorf("past the cap: HTTP %d Retry-After %q %s; want 503 busy with Retry-After", res.Status, res.Header.Get("Retry-After"), res.Body)
			}
			close(held.Hold)
			<-heldDone
			g.h.waitFor("the slot to be released", 10*time.Second, func() bool { return len(c.slots()) == 0 })
			// The slot is free again: the next post is read and judged on its
			// body (a signature over another body: 401; filler: 400).
			if res := c.next.Do(t, addr); res.Status != c.wantAfter {
				t.Errorf("after the release: HTTP %d %s; want %d", res.Status, res.Body, c.wantAfter)
			}
			if after := g.storedTotals(t); after != before {
				t.Errorf("stored something: %s → %s", before, after)
			}
		})
	}
}

// A body trickled in slower than the read deadline allows is cut off with
// 408 before the sender is done, and frees its slot.
func TestHooksCutOffSlowBodies(t *testing.T) {
	g := newInboundRig(t)
	var hooks *bridge.Hooks
	var inbound *espaceclient.Inbound
	addr, _ := g.guardedServer(t, func(h *bridge.Hooks, in *espaceclient.Inbound) {
		in.Bounds().ReadTimeout, h.Bounds().ReadTimeout = 300*time.Millisecond, 300*time.Millisecond
		hooks, inbound = h, in
	})
	token := url.QueryEscape(g.h.cfg.Webhooks.RedmineSecret.Reveal())
	cases := []struct {
		name  string
		post  hookguardtest.Post
		slots func() hookguard.Slots
	}{
		{"inbound", hookguardtest.Post{Path: "/hooks/inbound", Size: 100_000, Pause: 50 * time.Millisecond,
			Header: g.signedHeaders("msg_"+uniqueName("slow"), time.Now(), nil)}, func() hookguard.Slots { return inbound.Bounds().Slots }},
		{"redmine", hookguardtest.Post{Path: "/hooks/redmine?token=" + token, Size: 100_000, Pause: 50 * time.Millisecond},
			func() hookguard.Slots { return hooks.Bounds().Slots }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			res := c.post.Do(t, addr)
			if res.Status != http.StatusRequestTimeout || !strings.Contains(res.Body, `"code":"timeout"`) {
				t.Errorf("slow body: HTTP %d %s %v; want 408 timeout", res.Status, res.Body, res.Err)
			}
			if res.Sent >= c.post.Size {
				t.Errorf("the whole body (%d bytes) was sent before the answer; the deadline did not cut it off", res.Sent)
			}
			g.h.waitFor("the slot to be released", 10*time.Second, func() bool { return len(c.slots()) == 0 })
			if after := g.storedTotals(t); after != before {
				t.Errorf("stored something: %s → %s", before, after)
			}
		})
	}
}
