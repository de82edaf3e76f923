package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/app"
	"passerelle/bridge"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
	"passerelle/kratos/kratostest"
	"passerelle/redmine"
)

// harness runs the real thing against the stack's Redmine, Kratos and a
// fresh PostgreSQL database: the daemon as serve builds it (app.New: the
// customer-space API, the pages and the hooks on an httptest server, and the
// bridge's workers), with no periodic job (the tests drive the poll).
type harness struct {
	t   testing.TB
	cfg *config.Config
	app *app.App
	// pool is the test database; store and bridge are the app's.
	pool   *pgxpool.Pool
	store  *espaceclient.Store
	bridge *bridge.Bridge
	srv    *httptest.Server
	// rm is a client of the sync user through net (the bridge's own is
	// built by app); staff and admin act as people.
	rm, staff, admin *redmine.Client
	// net counts and breaks the bridge's calls to Redmine.
	net *faultTransport
}

type harnessOpts struct {
	mutateConfig func(*config.Config)
	noStart      bool
}

func newHarness(t testing.TB, opts harnessOpts) *harness {
	t.Helper()
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_URL", "REDMINE_SYNC_API_KEY", "REDMINE_STAFF_API_KEY", "REDMINE_ADMIN_API_KEY")
	t.Setenv("PASSERELLE_REDMINE_API_KEY", env[2])
	cfg, err := config.Load(env[0])
	if err != nil {
		t.Fatalf("loading the stack's config: %v", err)
	}
	// Every test database numbers its references from 1, and all tests share
	// one Redmine: a prefix of its own keeps each test's references unique.
	cfg.ReferencePrefix = uniquePrefix()
	if opts.mutateConfig != nil {
		opts.mutateConfig(cfg)
	}
	pool, _ := testenv.NewPool(t)
	h := &harness{t: t, cfg: cfg, pool: pool}
	h.net = &faultTransport{next: http.DefaultTransport}
	h.rm = redmine.New(redmine.Config{URL: env[1], APIKey: env[2], Transport: h.net})
	h.staff = redmine.New(redmine.Config{URL: env[1], APIKey: env[3]})
	h.admin = redmine.New(redmine.Config{URL: env[1], APIKey: env[4]})
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	if !testing.Verbose() {
		log.SetOutput(io.Discard)
	}
	h.app, err = app.New(context.Background(), app.Options{Config: cfg, Log: log, Pool: pool, RedmineTransport: h.net,
		NoPeriodic: true, MaxRetryDelay: time.Second, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.app.Close)
	h.store, h.bridge = h.app.Store(), h.app.Bridge()
	h.srv = httptest.NewServer(h.app.Handler())
	t.Cleanup(h.srv.Close)
	if !opts.noStart {
		h.start()
	}
	return h
}

func (h *harness) start() {
	if err := h.app.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		_ = h.app.Stop(sctx)
	})
}

// reload puts c in force as a SIGHUP would (App.Reload); the test fails if
// it is refused.
func (h *harness) reload(c *config.Config) {
	h.t.Helper()
	if err := h.app.Reload(c); err != nil {
		h.t.Fatalf("reload refused: %v", err)
	}
}

// client is a customer-space user with a real Kratos session.
type client struct {
	h     *harness
	id    string
	email string
	token string
}

func (h *harness) newClient(role config.Role, lots, mandates []string) *client {
	id, email, token := kratostest.NewClient(h.t, string(role), lots, mandates)
	return &client{h: h, id: id, email: email, token: token}
}

type file struct {
	name string
	data []byte
}

// call sends a request to the customer-space API and decodes the JSON answer.
func (c *client) call(method, path string, fields map[string]string, files []file, out any) int {
	c.h.t.Helper()
	var body io.Reader
	ctype := ""
	if fields != nil || files != nil {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		for _, f := range files {
			fw, _ := mw.CreateFormFile("attachments", f.name)
			_, _ = fw.Write(f.data)
		}
		mw.Close()
		body, ctype = &buf, mw.FormDataContentType()
	}
	req, _ := http.NewRequest(method, c.h.srv.URL+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("X-Session-Token", c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.h.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	if testing.Verbose() && resp.StatusCode >= 300 {
		c.h.t.Logf("%s %s -> %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// apiRequest is the customer-space JSON of a request.
type apiRequest struct {
	ID             string `json:"id"`
	Reference      string `json:"reference"`
	Status         string `json:"status"`
	RedmineIssueID *int   `json:"redmine_issue_id"`
	DueLabel       string `json:"due_label"`
	Messages       []struct {
		ID          string `json:"id"`
		AuthorKind  string `json:"author_kind"`
		Kind        string `json:"kind"`
		AuthorName  string `json:"author_name"`
		Body        string `json:"body"`
		BodyHTML    string `json:"body_html"`
		Attachments []struct {
			ID       string `json:"id"`
			Filename string `json:"filename"`
			URL      string `json:"url"`
		} `json:"attachments"`
	} `json:"messages"`
}

func (c *client) create(fields map[string]string, files ...file) apiRequest {
	c.h.t.Helper()
	var r apiRequest
	if code := c.call("POST", "/api/v1/requests", fields, files, &r); code != http.StatusCreated {
		c.h.t.Fatalf("create request: HTTP %d", code)
	}
	return r
}

func (c *client) get(id string) apiRequest {
	c.h.t.Helper()
	var r apiRequest
	if code := c.call("GET", "/api/v1/requests/"+id, nil, nil, &r); code != http.StatusOK {
		c.h.t.Fatalf("get request: HTTP %d", code)
	}
	return r
}

// waitFor polls cond until it holds or the bound passes. It waits for
// asynchronous work; it asserts nothing about speed.
func (h *harness) waitFor(what string, bound time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("gave up waiting (%s) for: %s", bound, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitMirrored waits for a request's Redmine issue and returns its id.
func (h *harness) waitMirrored(c *client, requestID string) redmine.IssueID {
	h.t.Helper()
	var id redmine.IssueID
	h.waitFor("request mirrored to Redmine", 90*time.Second, func() bool {
		r := c.get(requestID)
		if r.RedmineIssueID != nil {
			id = redmine.IssueID(*r.RedmineIssueID)
			return true
		}
		return false
	})
	return id
}

// faultTransport counts the bridge's calls to Redmine and can make Redmine
// unreachable (connection refused) or failing (HTTP 503), to test retries
// against the real server behind it.
type faultTransport struct {
	next     http.RoundTripper
	calls    atomic.Int64
	down     atomic.Bool
	fail503  atomic.Bool
	lastPath atomic.Value
	mu       sync.Mutex
	log      []string // "METHOD /path?query" of every call
	// recorded, while recording, holds each call in order (record).
	recording bool
	recorded  []*http.Request
}

func (f *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	f.lastPath.Store(r.Method + " " + r.URL.Path)
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.RequestURI())
	if f.recording {
		f.recorded = append(f.recorded, r)
	}
	f.mu.Unlock()
	if f.down.Load() {
		return nil, &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}
	}
	if f.fail503.Load() {
		return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Body: io.NopCloser(bytes.NewReader(nil)), Header: http.Header{}, Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

// mark returns a position in the call log, for callsSince.
func (f *faultTransport) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.log)
}

// callsSince returns the calls made after mark.
func (f *faultTransport) callsSince(mark int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log[mark:]...)
}

// record starts recording the calls; stop ends it and returns them in order.
func (f *faultTransport) record() (stop func() []*http.Request) {
	f.mu.Lock()
	f.recording, f.recorded = true, nil
	f.mu.Unlock()
	return func() []*http.Request {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.recording = false
		return f.recorded
	}
}

// Test files: a real JPEG, a real PNG, a minimal PDF.
func jpegBytes(seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i*7 + seed)
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, nil)
	return b.Bytes()
}

func pngBytes(seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{R: byte(seed), A: 255})
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func pdfBytes() []byte {
	return []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
}

// uniquePrefix returns a reference prefix no other test run uses.
func uniquePrefix() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 8)
	n := time.Now().UnixNano() + prefixSeq.Add(1)*7919
	b[0] = 'T'
	for i := 1; i < len(b); i++ {
		b[i] = letters[n%26]
		n /= 26
	}
	return string(b)
}

var prefixSeq atomic.Int64

// uniq returns a value unique to this run, for lots and mandate numbers.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e12)
}

func envInt(t *testing.T, name string) int {
	n, err := strconv.Atoi(testenv.Get(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

var errInjected = errors.New("injected failure")

// failFirst is a test hook that fails its first call and lets the others
// pass; calls counts them.
func failFirst(calls *atomic.Int32) func(any) error {
	return func(any) error {
		if calls.Add(1) == 1 {
			return errInjected
		}
		return nil
	}
}

// nameHint is a fragment of the display name Kratos test clients get.
func (c *client) nameHint() string { return "(locataire)" }
