package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/app"
	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/kratos/kratostest"
)

// The pages' handler tests run the whole daemon's handler (app.New, as serve
// builds it, not started: nothing is mirrored) on the stack's PostgreSQL and
// Kratos, with browser sessions from Kratos' real browser login flow. What a
// browser does with the pages (Kratos' login form, JavaScript, axe) is the
// e2e suite's (e2e/browser_*_test.go).

// site is the daemon's customer-facing handler on a test server.
type site struct {
	url    string
	prefix string
	pool   *pgxpool.Pool
}

func newSite(t *testing.T, mutate ...func(*config.Config)) *site {
	t.Helper()
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_SYNC_API_KEY")
	t.Setenv("PASSERELLE_REDMINE_API_KEY", env[1])
	cfg, err := config.Load(env[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReferencePrefix = "W" + strings.ToUpper(randomHex(3))
	for _, m := range mutate {
		m(cfg)
	}
	pool, _ := testenv.NewPool(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	a, err := app.New(context.Background(), app.Options{Config: cfg, Log: log, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &site{url: srv.URL, prefix: cfg.ReferencePrefix, pool: pool}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// browser is a client with a Kratos browser session cookie; it does not
// follow redirects (the tests read them).
type browser struct {
	t      *testing.T
	site   *site
	cookie *http.Cookie
	c      *http.Client
}

func (s *site) client(t *testing.T, role string, lots, mandates []string) *browser {
	t.Helper()
	if lots == nil {
		lots = []string{}
	}
	if mandates == nil {
		mandates = []string{}
	}
	id := kratostest.NewIdentity(t, kratostest.Options{Verified: true,
		MetadataPublic: map[string]any{"role": role, "lots": lots, "mandates": mandates}})
	return &browser{t: t, site: s, cookie: kratostest.LoginBrowser(t, id.Email, id.Password),
		c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (s *site) anonymous(t *testing.T) *browser {
	return &browser{t: t, site: s,
		c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request as a same-origin browser form would (Sec-Fetch-Site:
// same-origin) unless headers say otherwise.
func (b *browser) do(method, path string, body io.Reader, contentType string, headers ...string) (int, http.Header, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.site.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

func (b *browser) get(path string) (int, http.Header, string) {
	return b.do(http.MethodGet, path, nil, "")
}

// form posts fields and files (name → bytes) as multipart/form-data.
func (b *browser) form(path string, fields map[string]string, files map[string][]byte, headers ...string) (int, http.Header, string) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("attachments", name)
		_, _ = fw.Write(data)
	}
	_ = mw.Close()
	return b.do(http.MethodPost, path, &buf, mw.FormDataContentType(), headers...)
}

// requestCount is how many requests the client has, read through the API.
func (b *browser) requestCount() int {
	b.t.Helper()
	status, _, body := b.get("/api/v1/requests")
	if status != http.StatusOK {
		b.t.Fatalf("GET /api/v1/requests: %d %s", status, body)
	}
	var out struct {
		Requests []struct{ ID string } `json:"requests"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		b.t.Fatal(err)
	}
	return len(out.Requests)
}

// file files a request through the page and returns its id (from the
// confirmation's redirect).
func (b *browser) file(fields map[string]string, files map[string][]byte) string {
	b.t.Helper()
	status, h, body := b.form("/demandes", fields, files)
	if status != http.StatusSeeOther {
		b.t.Fatalf("POST /demandes: %d, want 303: %s", status, body)
	}
	loc := h.Get("Location")
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/demandes/"), "/envoyee")
	if id == loc || id == "" {
		b.t.Fatalf("POST /demandes redirected to %q, want /demandes/{id}/envoyee", loc)
	}
	return id
}

func repair(lot string) map[string]string {
	return map[string]string{"category": "travaux", "subject": "Fuite sous l'évier", "body": "L'eau coule depuis hier soir.",
		"location": "Cuisine, 2e étage", "payer": "unknown", "urgency": "high", "lot": lot}
}

// pngBytes is a tiny valid PNG (1×1).
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(body, w) {
			t.Errorf("%s contains %q", what, w)
		}
	}
}
