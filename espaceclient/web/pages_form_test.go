package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A page without a session sends the browser to the login page, coming back
// to the page it asked for; no page content is served.
func TestPagesSendAnonymousVisitorsToLogin(t *testing.T) {
	s := newSite(t)
	anon := s.anonymous(t)
	for _, path := range []string{"/", "/demandes/nouvelle", "/preferences", "/demandes/00000000-0000-0000-0000-000000000000"} {
		status, h, body := anon.get(path)
		if status != http.StatusSeeOther {
			t.Fatalf("GET %s without session: %d, want 303: %s", path, status, body)
		}
		if want := "/connexion?return_to=" + url.QueryEscape(path); h.Get("Location") != want {
			t.Errorf("GET %s: Location %q, want %q", path, h.Get("Location"), want)
		}
	}
}

// Every refusal of the new-request form comes back on the form: 4xx, the
// French message in the error summary linked to its field and next to the
// field, everything typed kept, and nothing stored.
func TestNewRequestFormRefusals(t *testing.T) {
	s := newSite(t)
	c := s.client(t, "tenant", []string{"A12"}, nil)
	long := strings.Repeat("x", 300)
	cases := []struct {
		name   string
		edit   func(map[string]string)
		files  map[string][]byte
		status int
		field  string
		msg    string
	}{
		{"subject missing", func(f map[string]string) { f["subject"] = "  " }, nil, 422, "subject", "Indiquez l&#39;objet"},
		{"location missing for repairs", func(f map[string]string) { delete(f, "location") }, nil, 422, "location", "Précisez l&#39;emplacement exact"},
		{"payer missing", func(f map[string]string) { delete(f, "payer") }, nil, 422, "payer", "qui prend en charge les frais"},
		{"subject too long", func(f map[string]string) { f["subject"] = long }, nil, 422, "subject", "caractères"},
		{"lot not held", func(f map[string]string) { f["lot"] = "Z99" }, nil, 422, "lot", "Z99"},
		{"file that is not an image or a PDF", nil, map[string][]byte{"photo.jpg": []byte("#!/bin/sh\necho not a photo\n")}, 415, "attachments", "JPEG"},
		{"empty file", nil, map[string][]byte{"vide.png": {}}, 422, "attachments", "vide"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.requestCount()
			fields := repair("A12")
			fields["body"] = "Texte tapé à garder : <b>gras</b>"
			if tc.edit != nil {
				tc.edit(fields)
			}
			status, _, body := c.form("/demandes", fields, tc.files)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			mustContain(t, "the form", body, `class="error-summary"`, `href="#`+tc.field+`"`, `id="`+tc.field+`-error"`, tc.msg,
				// What was typed comes back, escaped.
				"Texte tapé à garder : &lt;b&gt;gras&lt;/b&gt;", `name="category" value="travaux"`)
			if tc.files != nil {
				mustContain(t, "the form", body, "choisissez-les à nouveau")
			}
			if n := c.requestCount(); n != before {
				t.Fatalf("%d requests after a refused form, want %d", n, before)
			}
		})
	}
}

// A valid form files the request: 303 to the confirmation, which shows the
// dossier reference; the dashboard lists it under "À traiter".
func TestNewRequestFiledThroughThePage(t *testing.T) {
	s := newSite(t)
	c := s.client(t, "tenant", []string{"A12"}, nil)
	id := c.file(repair("A12"), map[string][]byte{"fuite.png": pngBytes})
	status, _, body := c.get("/demandes/" + id + "/envoyee")
	if status != http.StatusOK {
		t.Fatalf("confirmation: %d", status)
	}
	mustContain(t, "the confirmation", body, `id="dossier-reference">`+s.prefix, "numéro de dossier")
	status, _, dash := c.get("/")
	if status != http.StatusOK {
		t.Fatalf("dashboard: %d", status)
	}
	newCol := between(dash, `id="col-new"`, `id="col-in_progress"`)
	mustContain(t, "the À traiter column", newCol, `href="/demandes/`+id+`"`, "Fuite sous l&#39;évier", "1 demande(s)")
	status, _, page := c.get("/demandes/" + id)
	if status != http.StatusOK {
		t.Fatalf("request page: %d", status)
	}
	mustContain(t, "the request page", page, "Je ne sais pas (à déterminer par l&#39;agence)", "fuite.png",
		`action="/demandes/`+id+`/messages"`, `action="/demandes/`+id+`/cloture"`, "en cours de transmission")
}

// between returns the part of s after from and before to ("" if absent).
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
