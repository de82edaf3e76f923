package espaceclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

// recordingOutbox is the test double of the bridge's Outbox (the seam where
// the bridge enqueues its River jobs). It records every call, checks the
// call runs inside the transaction that stored the row (it reads the row
// through tx before the commit), and fails on demand.
type recordingOutbox struct {
	mu      sync.Mutex
	created []outboxCall
	added   []outboxCall
	closed  []outboxCall
	fail    bool
	errs    []string // problems seen inside the transaction
}

type outboxCall struct {
	Req    Request
	Msg    Message
	Reopen bool
}

var errOutboxDown = errors.New("queue unavailable (test)")

func (o *recordingOutbox) setFail(v bool) { o.mu.Lock(); o.fail = v; o.mu.Unlock() }

func (o *recordingOutbox) check(ctx context.Context, tx pgx.Tx, req Request, msg Message) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM messages WHERE id = $1 AND request_id = $2`, msg.ID, req.ID).Scan(&n); err != nil || n != 1 {
		o.errs = append(o.errs, fmt.Sprintf("message %s not visible in the outbox transaction (n=%d, err=%v)", msg.ID, n, err))
	}
}

func (o *recordingOutbox) RequestCreated(ctx context.Context, tx pgx.Tx, req Request, first Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errOutboxDown
	}
	o.check(ctx, tx, req, first)
	o.created = append(o.created, outboxCall{Req: req, Msg: first})
	return nil
}

func (o *recordingOutbox) MessageAdded(ctx context.Context, tx pgx.Tx, req Request, msg Message, reopen bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errOutboxDown
	}
	o.check(ctx, tx, req, msg)
	o.added = append(o.added, outboxCall{Req: req, Msg: msg, Reopen: reopen})
	return nil
}

func (o *recordingOutbox) RequestClosed(ctx context.Context, tx pgx.Tx, req Request, msg Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errOutboxDown
	}
	o.check(ctx, tx, req, msg)
	o.closed = append(o.closed, outboxCall{Req: req, Msg: msg})
	return nil
}

func (o *recordingOutbox) counts() (created, added, closed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.created), len(o.added), len(o.closed)
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// env is one test's customer space: a fresh migrated database, the real
// Kratos of the stack, the API on an httptest server.
type env struct {
	t      *testing.T
	pool   *pgxpool.Pool
	store  *Store
	svc    *Service
	cfg    *config.Holder
	outbox *recordingOutbox
	srv    *httptest.Server
	logs   *syncBuffer
}

func newEnv(t *testing.T, mutate ...func(*config.Config)) *env {
	t.Helper()
	pool, _ := testenv.NewPool(t)
	cfg := testConfig()
	cfg.Kratos.PublicURL = kratostest.PublicURL(t)
	cfg.Kratos.AdminURL = kratostest.AdminURL(t)
	for _, m := range mutate {
		m(cfg)
	}
	e := &env{t: t, pool: pool, store: NewStore(pool), cfg: config.NewHolder(cfg), outbox: &recordingOutbox{}, logs: &syncBuffer{}}
	e.svc = NewService(e.store, e.cfg, e.outbox, nil)
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(e.logs)
	api := NewAPI(e.svc, kratos.NewSessions(cfg.Kratos.PublicURL, nil), log)
	mux := http.NewServeMux()
	api.Register(mux)
	NewInbound(e.svc, kratos.NewDirectory(cfg.Kratos.AdminURL, nil), log).Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		e.outbox.mu.Lock()
		defer e.outbox.mu.Unlock()
		for _, p := range e.outbox.errs {
			t.Errorf("outbox: %s", p)
		}
	})
	return e
}

// client is a logged-in customer driving the HTTP API.
type client struct {
	e      *env
	id     string
	email  string
	token  string
	cookie *http.Cookie
}

func (e *env) newClient(role string, lots, mandates []string) *client {
	e.t.Helper()
	id, email, token := kratostest.NewClient(e.t, role, lots, mandates)
	c := &client{e: e, id: id, email: email, token: token}
	e.t.Cleanup(func() {
		if strings.Contains(e.logs.String(), token) {
			e.t.Errorf("a session token appears in the logs")
		}
	})
	return c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// errCode returns error.code of a JSON error answer.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not a JSON error (%d): %s", r.status, r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("JSON error without message: %s", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

func (c *client) do(method, path string, body io.Reader, contentType string) response {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set(kratos.SessionTokenHeader, c.token)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil, "") }

func (c *client) postJSON(path string, v any) response {
	b, _ := json.Marshal(v)
	return c.do(http.MethodPost, path, bytes.NewReader(b), "application/json")
}

// postMultipart sends fields and files (declared as image/jpeg whatever they
// are: the server must ignore the declared type).
func (c *client) postMultipart(path string, fields map[string]string, files []Upload) response {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments"; filename=%q`, f.Filename))
		h.Set("Content-Type", "image/jpeg")
		w, _ := mw.CreatePart(h)
		_, _ = w.Write(f.Data)
	}
	_ = mw.Close()
	return c.do(http.MethodPost, path, &b, mw.FormDataContentType())
}

func repairFields(lot string) map[string]string {
	return map[string]string{
		"category": "travaux", "subject": "Fuite sous l'évier", "body": "L'eau coule depuis ce matin.\nMerci.",
		"location": "Cuisine, 2e étage", "payer": "owner", "urgency": "high", "lot": lot,
	}
}

// rowCounts counts the stored rows of the customer space.
func (e *env) rowCounts() (requests, messages, attachments int) {
	e.t.Helper()
	err := e.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM messages), (SELECT count(*) FROM attachments)`).
		Scan(&requests, &messages, &attachments)
	if err != nil {
		e.t.Fatal(err)
	}
	return
}

func (e *env) expectRows(requests, messages, attachments int) {
	e.t.Helper()
	r, m, a := e.rowCounts()
	if r != requests || m != messages || a != attachments {
		e.t.Fatalf("rows: requests=%d messages=%d attachments=%d, want %d %d %d", r, m, a, requests, messages, attachments)
	}
}

// str reads a string at a JSON path such as "messages.0.attachments.1.id".
func str(t *testing.T, m map[string]any, path string) string {
	t.Helper()
	v := at(t, m, path)
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s is %T %v, not a string", path, v, v)
	}
	return s
}

func at(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(c) {
				t.Fatalf("%s: no index %s", path, p)
			}
			cur = c[i]
		default:
			t.Fatalf("%s: cannot descend into %T at %s", path, cur, p)
		}
	}
	return cur
}

func length(t *testing.T, m map[string]any, path string) int {
	t.Helper()
	l, ok := at(t, m, path).([]any)
	if !ok {
		t.Fatalf("%s is not a list", path)
	}
	return len(l)
}

// httptestServer serves h until the test ends and returns its URL.
func httptestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

var _ = time.Second

// uniqueName returns a value unique to this run, for lots and mandate numbers.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e12)
}
