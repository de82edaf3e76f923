package web_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"passerelle/config"
)

// What a client wrote (a subject, a message, a file name holding <script>
// and markup) is shown as text on every page, never as markup.
func TestPagesShowClientTextAsText(t *testing.T) {
	s := newSite(t)
	c := s.client(t, "tenant", []string{"A12"}, nil)
	f := repair("A12")
	f["subject"] = `<script>alert("objet")</script><b>gras</b>`
	f["body"] = `<img src=x onerror=alert(1)> et "guillemets"`
	id := c.file(f, map[string][]byte{`<script>alert(1)</script>.png`: pngBytes})
	for _, path := range []string{"/", "/demandes/" + id, "/demandes/" + id + "/envoyee", "/demandes/" + id + "/fil"} {
		status, _, body := c.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, status)
		}
		mustNotContain(t, path, body, `<script>alert`, `<b>gras`, `<img src=x`)
	}
	_, _, page := c.get("/demandes/" + id)
	mustContain(t, "the request page", page, `&lt;script&gt;alert(&#34;objet&#34;)&lt;/script&gt;&lt;b&gt;gras&lt;/b&gt;`,
		`&lt;img src=x onerror=alert(1)&gt;`)
}

// A form posted from another site (Sec-Fetch-Site: cross-site, or an Origin
// of another host) is refused with 403 and changes nothing: no request
// filed, no message, not closed, preferences unchanged.
func TestCrossSitePostsRefused(t *testing.T) {
	s := newSite(t)
	c := s.client(t, "tenant", []string{"A12"}, nil)
	id := c.file(repair("A12"), nil)
	cross := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
	}
	for _, h := range cross {
		before := c.requestCount()
		status, _, body := c.form("/demandes", repair("A12"), nil, h...)
		if status != http.StatusForbidden || !strings.Contains(body, "depuis l&#39;espace client") {
			t.Fatalf("cross-site POST /demandes %v: %d %s", h, status, body)
		}
		if c.requestCount() != before {
			t.Fatal("a cross-site form filed a request")
		}
		if status, _, _ := c.form("/demandes/"+id+"/messages", map[string]string{"body": "forgé"}, nil, h...); status != http.StatusForbidden {
			t.Fatalf("cross-site reply: %d", status)
		}
		if status, _, _ := c.do(http.MethodPost, "/demandes/"+id+"/cloture", nil, "", h...); status != http.StatusForbidden {
			t.Fatalf("cross-site close: %d", status)
		}
		if status, _, _ := c.do(http.MethodPost, "/preferences", strings.NewReader("email_mode=daily"),
			"application/x-www-form-urlencoded", h...); status != http.StatusForbidden {
			t.Fatalf("cross-site preferences: %d", status)
		}
	}
	_, _, page := c.get("/demandes/" + id)
	mustNotContain(t, "the request page", page, "forgé", "clôturée par vous")
	_, _, prefs := c.get("/preferences")
	mustContain(t, "the preferences", prefs, `value="immediate" checked`)
}

// Another client's request answers exactly the 404 page of a request that
// does not exist: no hint that it exists. The same for its confirmation,
// thread, reply and close.
func TestAnotherClientsRequestIsTheNotFoundPage(t *testing.T) {
	s := newSite(t)
	a := s.client(t, "tenant", []string{"A12"}, nil)
	b := s.client(t, "tenant", []string{"B07"}, nil)
	id := a.file(repair("A12"), nil)
	_, _, missing := b.get("/demandes/6d1c2f0e-0000-4000-8000-000000000000")
	for _, path := range []string{"/demandes/" + id, "/demandes/" + id + "/envoyee", "/demandes/" + id + "/fil"} {
		status, _, body := b.get(path)
		if status != http.StatusNotFound {
			t.Fatalf("another tenant GET %s: %d, want 404", path, status)
		}
		if path == "/demandes/"+id && body != missing {
			t.Errorf("another client's request page differs from a missing request's page")
		}
		mustNotContain(t, path, body, "Fuite", id, s.prefix)
	}
	if status, _, _ := b.form("/demandes/"+id+"/messages", map[string]string{"body": "intrus"}, nil); status != http.StatusNotFound {
		t.Fatalf("another tenant's reply: %d, want 404", status)
	}
	if status, _, _ := b.do(http.MethodPost, "/demandes/"+id+"/cloture", nil, ""); status != http.StatusNotFound {
		t.Fatalf("another tenant's close: %d, want 404", status)
	}
	_, _, page := a.get("/demandes/" + id)
	mustNotContain(t, "the author's page", page, "intrus", "clôturée par vous")
}

// An owner sees a tenant's repair request on the owner's lot read-only: on
// the dashboard under "Demandes déposées sur vos lots", and its page without
// reply or close form.
func TestOwnerReadsLotRequestReadOnly(t *testing.T) {
	s := newSite(t)
	lot := "L" + strings.ToUpper(randomHex(3))
	tenant := s.client(t, "tenant", []string{lot}, nil)
	owner := s.client(t, "owner", []string{lot}, []string{"M" + randomHex(3)})
	id := tenant.file(repair(lot), nil)
	_, _, dash := owner.get("/")
	onLots := between(dash, `id="on-lots"`, "</section>")
	mustContain(t, "the owner's lot section", onLots, `href="/demandes/`+id+`"`)
	mustNotContain(t, "the owner's own columns", between(dash, `class="columns"`, `id="on-lots"`), id)
	status, _, page := owner.get("/demandes/" + id)
	if status != http.StatusOK {
		t.Fatalf("owner GET: %d", status)
	}
	mustContain(t, "the owner's view", page, `id="read-only"`)
	mustNotContain(t, "the owner's view", page, `id="reply"`, `id="close"`)
	if status, _, _ := owner.form("/demandes/"+id+"/messages", map[string]string{"body": "je réponds"}, nil); status != http.StatusForbidden {
		t.Fatalf("owner reply: %d, want 403", status)
	}
}

// Kratos unreachable (nothing listens where the configuration says it is):
// a page answers the "connexion momentanément indisponible" page, 503 with
// Retry-After, never a redirect to the login (not a logout) nor a 500.
func TestKratosUnreachableIsTheConnectionUnavailablePage(t *testing.T) {
	s := newSite(t)
	c := s.client(t, "tenant", []string{"A12"}, nil)
	down := newSite(t, func(cfg *config.Config) { cfg.Kratos.PublicURL = "http://" + closedAddr(t) })
	c.site = down
	status, h, body := c.get("/")
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("GET / with Kratos unreachable: %d (Retry-After %q), want 503", status, h.Get("Retry-After"))
	}
	mustContain(t, "the outage page", body, "Connexion momentanément indisponible", "Vos demandes sont conservées")
}

// A path that is no page answers the 404 page.
func TestUnknownPathIsTheNotFoundPage(t *testing.T) {
	s := newSite(t)
	status, h, body := s.anonymous(t).get("/nulle-part")
	if status != http.StatusNotFound || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /nulle-part: %d %s", status, h.Get("Content-Type"))
	}
	mustContain(t, "the 404 page", body, "Page introuvable", `lang="fr"`)
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The pages apply the API's write limits (one limiter, Service.AdmitWrite):
// past the burst a form is refused with 429, Retry-After and the French
// message, and nothing is stored.
func TestPagesApplyTheWriteRateLimit(t *testing.T) {
	s := newSite(t, func(cfg *config.Config) {
		cfg.Limits.WritesPerMinute, cfg.Limits.WritesBurst = 1, 2
	})
	c := s.client(t, "tenant", []string{"A12"}, nil)
	c.file(repair("A12"), nil)
	c.file(repair("A12"), nil)
	status, h, body := c.form("/demandes", repair("A12"), nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("third form in a row: %d (Retry-After %q), want 429", status, h.Get("Retry-After"))
	}
	mustContain(t, "the refusal", body, "trop d&#39;envois", "rien n&#39;a été enregistré")
	if n := c.requestCount(); n != 2 {
		t.Fatalf("%d requests stored, want 2", n)
	}
}
