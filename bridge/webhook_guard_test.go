package bridge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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

	"passerelle/espaceclient"
	"passerelle/internal/hookguard"
	"passerelle/kratos"
)

// Tests of the hooks' bounds against callers who are not authenticated
// (internal/hookguard, used by both): nothing is read before the headers pass, bodies are
// capped, a concurrency cap answers 503 and slow bodies are cut off. They run
// on the real stack (the harness's database, Kratos), on a server whose
// listener counts the bytes the server read from each connection.

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, read: l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// CloseWrite keeps net/http's graceful close (FIN, then a pause before the
// RST), so that the client reads an early answer.
func (c countingConn) CloseWrite() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

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
	return &inboundRig{h: h, pool: h.bridge.cfg.Pool, secret: h.cfg.Webhooks.InboundSecret.Reveal()}
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
// cmd/passerelle/serve.go mounts them); tweak may lower their bounds before
// they serve.
func (g *inboundRig) guardedServer(t *testing.T, tweak func(*Hooks, *espaceclient.Inbound)) (addr string, read *atomic.Int64) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	svc := espaceclient.NewService(g.h.store, g.h.holder, g.h.bridge.Outbox(), time.Now)
	inbound := espaceclient.NewInbound(svc, kratos.NewDirectory(g.h.cfg.Kratos.AdminURL, nil), log)
	hooks := NewHooks(g.h.bridge, g.h.holder, log)
	if tweak != nil {
		tweak(hooks, inbound)
	}
	mux := http.NewServeMux()
	inbound.Register(mux)
	hooks.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	read = new(atomic.Int64)
	srv.Listener = countingListener{Listener: srv.Listener, read: read}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), read
}

// rawPost is one POST written by hand on its own connection, so that a body
// can be larger than what the server reads, sent chunked or trickled.
type rawPost struct {
	path   string
	header map[string]string
	// size is the body's length; chunked sends it without Content-Length.
	size    int64
	chunked bool
	// pause is slept between 1-byte writes (a slow sender) when not zero.
	pause time.Duration
	// hold keeps the connection open, unanswered, until it is closed.
	hold chan struct{}
	// content, when not nil, is the body (size is then its length).
	content []byte
}

// rawResult is what the server answered and how much the client wrote.
type rawResult struct {
	status int
	header http.Header
	body   string
	sent   int64
	err    error
}

// do sends p to addr and reads the answer.
func (p rawPost) do(t *testing.T, addr string) rawResult {
	t.Helper()
	if p.content != nil {
		p.size = int64(len(p.content))
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", p.path, addr)
	for k, v := range p.header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if p.chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", p.size)
	}
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for left := p.size; left > 0; {
			n := min(int64(len(chunk)), left)
			if p.pause > 0 || p.hold != nil {
				n = 1
			}
			if p.content != nil {
				chunk = p.content
			}
			var err error
			if p.chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", n, chunk[:n])
			} else {
				_, err = conn.Write(chunk[:n])
			}
			if err != nil {
				return
			}
			sent.Add(n)
			left -= n
			if p.hold != nil {
				<-p.hold
				conn.Close()
				return
			}
			time.Sleep(p.pause)
		}
		if p.chunked {
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		<-done
		return rawResult{sent: sent.Load(), err: err}
	}
	b, _ := io.ReadAll(resp.Body)
	conn.Close()
	<-done
	return rawResult{status: resp.StatusCode, header: resp.Header, body: string(b), sent: sent.Load()}
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
		post rawPost
		// wantStatus and wantCode: the answer; maxRead: the bound on what the server read.
		wantStatus int
		wantCode   string
		maxRead    int64
	}{
		{"inbound, no signature headers", rawPost{path: "/hooks/inbound", size: big}, 401, "bad_signature", 1 << 20},
		{"inbound, stale timestamp", rawPost{path: "/hooks/inbound", size: big,
			header: g.signedHeaders("msg_stale", now.Add(-time.Hour), nil)}, 401, "bad_signature", 1 << 20},
		{"inbound, timestamp far in the future", rawPost{path: "/hooks/inbound", size: big,
			header: map[string]string{"webhook-id": "msg_x", "webhook-timestamp": "9223372036854775807", "webhook-signature": "v1,AAAA"}}, 401, "bad_signature", 1 << 20},
		{"inbound, signature not base64 of 32 bytes", rawPost{path: "/hooks/inbound", size: big,
			header: map[string]string{"webhook-id": "msg_x", "webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": "v1,AAAA"}}, 401, "bad_signature", 1 << 20},
		{"inbound, unsigned and chunked", rawPost{path: "/hooks/inbound", size: big, chunked: true}, 401, "bad_signature", 1 << 20},
		{"inbound, signed but over the cap (declared length)", rawPost{path: "/hooks/inbound", size: big,
			header: g.signedHeaders("msg_big_declared", now, nil)}, 413, "too_large", 1 << 20},
		{"inbound, signed but over the cap (chunked)", rawPost{path: "/hooks/inbound", size: big, chunked: true,
			header: g.signedHeaders("msg_big_chunked", now, nil)}, 413, "too_large", limit + 1<<20},
		{"redmine, no token", rawPost{path: "/hooks/redmine", size: big}, 401, "unauthenticated", 1 << 20},
		{"redmine, wrong token", rawPost{path: "/hooks/redmine?token=wrong", size: big}, 401, "unauthenticated", 1 << 20},
		{"redmine, malformed signature", rawPost{path: "/hooks/redmine", size: big,
			header: map[string]string{"X-Redmine-Signature-256": "sha256=00"}}, 401, "unauthenticated", 1 << 20},
		{"redmine, good token but over the cap", rawPost{path: "/hooks/redmine?token=" + url.QueryEscape(g.h.cfg.Webhooks.RedmineSecret.Reveal()),
			size: big}, 413, "too_large", 1 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			read.Store(0)
			res := c.post.do(t, addr)
			if res.err != nil {
				t.Fatalf("no answer: %v (client wrote %d bytes)", res.err, res.sent)
			}
			if res.status != c.wantStatus || !strings.Contains(res.body, `"code":"`+c.wantCode+`"`) {
				t.Fatalf("HTTP %d %s; want %d %s", res.status, res.body, c.wantStatus, c.wantCode)
			}
			if got := read.Load(); got > c.maxRead {
				t.Errorf("the server read %d bytes of a %d-byte post before refusing it; want at most %d", got, int64(big), c.maxRead)
			}
			t.Logf("server read %d bytes, client wrote %d", read.Load(), res.sent)
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
	var hooks *Hooks
	var inbound *espaceclient.Inbound
	addr, _ := g.guardedServer(t, func(h *Hooks, in *espaceclient.Inbound) {
		in.Bounds().Slots, h.redmine.Slots = hookguard.NewSlots(1), hookguard.NewSlots(1)
		hooks, inbound = h, in
	})
	token := url.QueryEscape(g.h.cfg.Webhooks.RedmineSecret.Reveal())
	cases := []struct {
		name  string
		slots func() hookguard.Slots
		// held is the post that takes the only slot; next is refused, then accepted.
		held, next rawPost
		wantAfter  int
	}{
		{"inbound", func() hookguard.Slots { return inbound.Bounds().Slots },
			rawPost{path: "/hooks/inbound", size: 1000, header: g.signedHeaders("msg_"+uniqueName("held"), time.Now(), nil)},
			rawPost{path: "/hooks/inbound", size: 10, header: g.signedHeaders("msg_"+uniqueName("next"), time.Now(), nil)}, 401},
		{"redmine", func() hookguard.Slots { return hooks.redmine.Slots },
			rawPost{path: "/hooks/redmine?token=" + token, size: 1000},
			rawPost{path: "/hooks/redmine?token=" + token, size: 10}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			held := c.held
			held.hold = make(chan struct{})
			heldDone := make(chan rawResult, 1)
			go func() { heldDone <- held.do(t, addr) }()
			g.h.waitFor("the held post to take the slot", 10*time.Second, func() bool { return len(c.slots()) == 1 })
			res := c.next.do(t, addr)
			if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" || !strings.Contains(res.body, `"code":"busy"`) {
				t.Errorf("past the cap: HTTP %d Retry-After %q %s; want 503 busy with Retry-After", res.status, res.header.Get("Retry-After"), res.body)
			}
			close(held.hold)
			<-heldDone
			g.h.waitFor("the slot to be released", 10*time.Second, func() bool { return len(c.slots()) == 0 })
			// The slot is free again: the next post is read and judged on its
			// body (a signature over another body: 401; filler: 400).
			if res := c.next.do(t, addr); res.status != c.wantAfter {
				t.Errorf("after the release: HTTP %d %s; want %d", res.status, res.body, c.wantAfter)
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
	var hooks *Hooks
	var inbound *espaceclient.Inbound
	addr, _ := g.guardedServer(t, func(h *Hooks, in *espaceclient.Inbound) {
		in.Bounds().ReadTimeout, h.redmine.ReadTimeout = 300*time.Millisecond, 300*time.Millisecond
		hooks, inbound = h, in
	})
	token := url.QueryEscape(g.h.cfg.Webhooks.RedmineSecret.Reveal())
	cases := []struct {
		name  string
		post  rawPost
		slots func() hookguard.Slots
	}{
		{"inbound", rawPost{path: "/hooks/inbound", size: 100_000, pause: 50 * time.Millisecond,
			header: g.signedHeaders("msg_"+uniqueName("slow"), time.Now(), nil)}, func() hookguard.Slots { return inbound.Bounds().Slots }},
		{"redmine", rawPost{path: "/hooks/redmine?token=" + token, size: 100_000, pause: 50 * time.Millisecond},
			func() hookguard.Slots { return hooks.redmine.Slots }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.storedTotals(t)
			res := c.post.do(t, addr)
			if res.status != http.StatusRequestTimeout || !strings.Contains(res.body, `"code":"timeout"`) {
				t.Errorf("slow body: HTTP %d %s %v; want 408 timeout", res.status, res.body, res.err)
			}
			if res.sent >= c.post.size {
				t.Errorf("the whole body (%d bytes) was sent before the answer; the deadline did not cut it off", res.sent)
			}
			g.h.waitFor("the slot to be released", 10*time.Second, func() bool { return len(c.slots()) == 0 })
			if after := g.storedTotals(t); after != before {
				t.Errorf("stored something: %s → %s", before, after)
			}
		})
	}
}
