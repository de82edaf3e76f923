package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// Hostile files through the running binary: over uploads.max_file_size, HTML
// and SVG named .jpg, polyglots, an active PDF, empty files, too many files,
// a body over the cap, on a new request and on a follow-up: each its status
// and code, nothing stored, nothing in Redmine. Then names built to mislead
// (traversal, backslashes, RLO, control and invisible characters, a leading
// dot, invalid UTF-8, a JPEG named .html): the request is accepted and the
// name the API shows, the download's Content-Disposition and the Redmine
// attachment all carry the sanitized name, ending in the sniffed type.
func TestHostileUploads(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	tenant, _ := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	jpg := photoJPEG(t, 16, 16)
	png := photoPNG(t, 16, 16)
	html := []byte("<!DOCTYPE html><html><body><script>fetch('/api/v1/me').then(r=>r.text()).then(alert)</script></body></html>")
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><rect width="9" height="9"/></svg>`)
	htmlFirst := append(append([]byte("<html><script>alert(1)</script><!--"), jpg...), "-->"...)
	gifar := append([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), []byte("PK\x03\x04 a zip after the picture")...)
	activePDF := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n3 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n" +
		"trailer << /Root 1 0 R >>\n%%EOF\n")
	over := append(append([]byte(nil), jpg...), bytes.Repeat([]byte{0}, hostileMaxFileSize+1-len(jpg))...)
	six := make([]clientFile, 6)
	for i := range six {
		six[i] = clientFile{fmt.Sprintf("photo-%d.jpg", i), jpg}
	}

	base := tenant.create(e.base, "Demande qui reçoit les suites "+tag, "Les pièces jointes refusées ne doivent rien y ajouter.")
	tenant.waitIssue(e.base, base.ID, 60*time.Second)
	cases := []struct {
		name   string
		files  []clientFile
		extra  []formField // more fields after the request's
		want   refusal
		onlyOn string // "create" or "message"; "" both
	}{
		{"file over max_file_size", []clientFile{{"grande-photo.jpg", over}}, nil, refusal{413, "file_too_large", "attachments"}, ""},
		{"HTML named .jpg", []clientFile{{"photo.jpg", html}}, nil, refusal{415, "unsupported_file_type", "attachments"}, ""},
		{"SVG named .jpg", []clientFile{{"plan.jpg", svg}}, nil, refusal{415, "unsupported_file_type", "attachments"}, ""},
		{"polyglot: HTML first, a JPEG inside", []clientFile{{"poly.jpg", htmlFirst}}, nil, refusal{415, "unsupported_file_type", "attachments"}, ""},
		{"GIF and ZIP polyglot named .jpg", []clientFile{{"gifar.jpg", gifar}}, nil, refusal{415, "unsupported_file_type", "attachments"}, ""},
		{"PDF with JavaScript named .jpg", []clientFile{{"devis.jpg", activePDF}}, nil, refusal{422, "pdf_active_content", "attachments"}, ""},
		{"a good photo, then HTML named .png", []clientFile{{"ok.jpg", jpg}, {"x.png", html}}, nil, refusal{415, "unsupported_file_type", "attachments"}, ""},
		{"empty file", []clientFile{{"vide.jpg", nil}}, nil, refusal{422, "empty_file", "attachments"}, ""},
		{"six files, five allowed", six, nil, refusal{422, "too_many_files", "attachments"}, ""},
		{"3 MiB in an ignored part: body over the cap", nil, []formField{{"ignored", strings.Repeat("y", 3<<20)}}, refusal{413, "request_too_large", ""}, "create"},
	}
	for _, tc := range cases {
		for _, route := range []string{"create", "message"} {
			if tc.onlyOn != "" && tc.onlyOn != route {
				continue
			}
			t.Run(route+"/"+tc.name, func(t *testing.T) {
				before := clientState(tenant, e.base)
				var r hResp
				if route == "create" {
					r = tenant.postMultipart(e.base, "/api/v1/requests", append(autreFields("Pièce refusée "+tag, "Voir la pièce jointe."), tc.extra...), tc.files)
				} else {
					r = tenant.postMultipart(e.base, "/api/v1/requests/"+base.ID+"/messages", append([]formField{{"body", "Voir la pièce jointe."}}, tc.extra...), tc.files)
				}
				r.check(t, route+" with "+tc.name, tc.want)
				unchanged(t, route+" with "+tc.name, tenant, e.base, before)
			})
		}
	}

	// Misleading names: accepted, stored and sent sanitized.
	type named struct {
		sent, want, ctype string
		data              []byte
	}
	polyJPEG := append(append([]byte(nil), jpg...), html...) // a real JPEG with HTML after its end
	onCreate := []named{
		{"poly.html", "poly.html.jpg", "image/jpeg", polyJPEG},
		{"../../etc/passwd.jpg", "passwd.jpg", "image/jpeg", jpg},
		{`..\..\Windows\win.ini.jpg`, "win.ini.jpg", "image/jpeg", jpg},
		{"facture\u202Egpj.exe", "facturegpj.exe.jpg", "image/jpeg", jpg},
	}
	onMessage := []named{
		{"a\x01b\x1b[2Jc\x7fd\u200b\u2066.jpg", "ab[2Jcd.jpg", "image/jpeg", jpg},
		{".htaccess.png", "htaccess.png", "image/png", png},
		{"ph\xffoto.jpg", "ph_oto.jpg", "image/jpeg", jpg},
	}
	files := func(ns []named) []clientFile {
		var out []clientFile
		for _, n := range ns {
			out = append(out, clientFile{n.sent, n.data})
		}
		return out
	}
	r := tenant.postMultipart(e.base, "/api/v1/requests", autreFields("Noms de fichiers piégés "+tag, "Quatre photos."), files(onCreate))
	if r.status != http.StatusCreated {
		t.Fatalf("request with misleading names: %s, want 201", r)
	}
	var created apiRequest
	decodeJSON(t, r.body, &created)
	if r := tenant.postMultipart(e.base, "/api/v1/requests/"+created.ID+"/messages", []formField{{"body", "Trois de plus."}}, files(onMessage)); r.status != http.StatusCreated {
		t.Fatalf("follow-up with misleading names: %s, want 201", r)
	}
	all := append(append([]named(nil), onCreate...), onMessage...)
	th := getThread(tenant, e.base, created.ID)
	var shown []apiFile
	for _, m := range th.Messages {
		shown = append(shown, m.Attachments...)
	}
	if len(shown) != len(all) {
		t.Fatalf("the thread shows %d files, want %d\n%s", len(shown), len(all), th.summary())
	}
	for i, n := range all {
		a := shown[i]
		if a.Filename != n.want || a.ContentType != n.ctype {
			t.Errorf("file sent as %q: the API shows %q (%s), want %q (%s)", n.sent, a.Filename, a.ContentType, n.want, n.ctype)
		}
		dl := sendAs(tenant.token, e.base, http.MethodGet, a.URL, "", nil)
		_, params, err := mime.ParseMediaType(dl.header.Get("Content-Disposition"))
		cd := dl.header.Get("Content-Disposition")
		if dl.status != http.StatusOK || err != nil || !strings.HasPrefix(cd, "attachment;") || params["filename"] != n.want ||
			dl.header.Get("Content-Type") != n.ctype || dl.header.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(dl.body, n.data) {
			t.Errorf("download of %q: HTTP %d, Content-Disposition %q (name %q, %v), Content-Type %q, nosniff %q, %d bytes; want attachment named %q, %s, nosniff, the bytes sent",
				n.sent, dl.status, cd, params["filename"], err, dl.header.Get("Content-Type"), dl.header.Get("X-Content-Type-Options"), len(dl.body), n.want, n.ctype)
		}
	}

	issue := tenant.waitIssue(e.base, created.ID, 60*time.Second)
	var inRedmine []string
	waitUntil(t, 60*time.Second, "the seven files attached to the issue", func() (bool, string) {
		inRedmine = nil
		for _, a := range e.rm.issueAttachments(issue) {
			inRedmine = append(inRedmine, a.Filename)
		}
		return len(inRedmine) == len(all), fmt.Sprintf("%q", inRedmine)
	})
	var wantNames []string
	for _, n := range all {
		wantNames = append(wantNames, n.want)
	}
	sort.Strings(inRedmine)
	sort.Strings(wantNames)
	if fmt.Sprint(inRedmine) != fmt.Sprint(wantNames) {
		t.Errorf("issue #%d carries files %q, want the sanitized names %q", issue, inRedmine, wantNames)
	}
	for _, name := range inRedmine {
		if strings.ContainsAny(name, "/\\\u202e\x00\x01\x1b\x7f") || strings.HasPrefix(name, ".") {
			t.Errorf("issue #%d: file name %q keeps a separator, a control character, an RLO or a leading dot", issue, url.PathEscape(name))
		}
	}
	e.settleRedmine(2)
}

// mustUnmarshal decodes JSON or fails the test.
func decodeJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %.300s: %v", data, err)
	}
}
