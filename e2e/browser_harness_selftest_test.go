package e2e

// Tests of the browser harness itself, on tiny pages served here (no stack
// needed): they prove the accessibility check finds what it must and the
// helpers do what the journeys rely on, before a journey uses them.

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// badPage has known serious and critical violations: no lang on <html>, an
// image without alt text, a text field without a label.
const badPage = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page fautive</title></head>
<body><main><h1>Demande</h1>
<img src="/pixel.png">
<form><input type="text" name="objet"></form>
</main></body></html>`

// cleanPage is the same content made accessible.
const cleanPage = `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page correcte</title></head>
<body><main><h1>Demande</h1>
<img src="/pixel.png" alt="Logo de l'agence">
<form><label for="objet">Objet</label> <input type="text" id="objet" name="objet"></form>
</main></body></html>`

// pixelPNG is a 16×16 grey PNG.
var pixelPNG = func() []byte {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}()

// servePages serves fixed pages on 127.0.0.1 (and /pixel.png); any other
// path answers 404 with a page.
func servePages(t *testing.T, pages map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pixel.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(pixelPNG)
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<!doctype html><html lang="fr"><title>Introuvable</title><main><h1 id="nf">Page introuvable</h1></main></html>`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// recordingTB is a testing.TB whose Fatalf records instead of stopping the
// test: it shows that the fatal axe wrapper fails a bad page.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	fatals []string
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// TestBrowserHarnessAxeFindsViolations: axe-core in the real Chromium
// reports the bad page's violations (and the fatal wrapper fails on them),
// and nothing on the clean page.
func TestBrowserHarnessAxeFindsViolations(t *testing.T) {
	srv := servePages(t, map[string]string{"/bad": badPage, "/clean": cleanPage})
	b := newBrowser(t)

	b.navigate(srv.URL + "/bad")
	vs, err := b.axeViolations()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]axeViolation{}
	for _, v := range vs {
		byID[v.ID] = v
		t.Logf("bad page: %s", v)
	}
	for id, target := range map[string]string{"image-alt": "img", "label": "input", "html-has-lang": "html"} {
		v, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("axe did not report %s on the bad page (got %d violations)", id, len(vs))
		case !v.blocking():
			t.Errorf("%s has impact %q, want serious or critical", id, v.Impact)
		case len(v.Nodes) != 1 || !strings.Contains(strings.Join(v.Nodes[0].Target, " "), target):
			t.Errorf("%s: nodes %+v, want the one %s", id, v.Nodes, target)
		}
	}

	rec := &recordingTB{TB: t}
	b.axe(rec, "bad page")
	if len(rec.fatals) != 1 {
		t.Fatalf("axe(bad page) called Fatalf %d times, want once: %q", len(rec.fatals), rec.fatals)
	}
	for _, want := range []string{"image-alt (critical)", "label (critical)", "html-has-lang (serious)", "bad page", "/bad"} {
		if !strings.Contains(rec.fatals[0], want) {
			t.Errorf("axe(bad page)'s failure lacks %q:\n%s", want, rec.fatals[0])
		}
	}

	b.navigate(srv.URL + "/clean")
	vs, err = b.axeViolations()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("clean page: unexpected violation %s", v)
	}
	b.axe(t, "clean page")
}

// TestBrowserHarnessDrivesPages: statuses (200, 404, after a 303), a form
// filled by typing with a file picked, the phone viewport, and a cookie set
// on one port of 127.0.0.1 sent to another (as Kratos' session cookie is).
func TestBrowserHarnessDrivesPages(t *testing.T) {
	form := `<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Formulaire</title></head>
<body><main><h1>Nouvelle demande</h1>
<form method="post" action="/send" enctype="multipart/form-data">
<label for="subject">Objet</label><input id="subject" name="subject" value="ancien">
<label for="body">Message</label><textarea id="body" name="body"></textarea>
<label for="kind">Type</label><select id="kind" name="kind"><option value="a">A</option><option value="b">B</option></select>
<label for="files">Pièces jointes</label><input type="file" id="files" name="files" multiple>
<button type="submit" id="send">Envoyer</button>
</form><div style="height: 2000px"></div></main></body></html>`
	var (
		mu  sync.Mutex
		got string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, form) })
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var names []string
		for _, fh := range r.MultipartForm.File["files"] {
			names = append(names, fmt.Sprintf("%s:%d", fh.Filename, fh.Size))
		}
		mu.Lock()
		got = fmt.Sprintf("subject=%s|body=%s|kind=%s|files=%s", r.FormValue("subject"), r.FormValue("body"),
			r.FormValue("kind"), strings.Join(names, ","))
		mu.Unlock()
		http.Redirect(w, r, "/done", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><html lang="fr"><title>Envoyé</title><main><p id="got">%s</p></main></html>`, html.EscapeString(got))
	})
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cr3t", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		io.WriteString(w, `<!doctype html><html lang="fr"><title>Cookie</title><main><p id="ok">posé</p></main></html>`)
	})
	mux.HandleFunc("GET /missing", http.NotFound)
	a := httptest.NewServer(mux)
	t.Cleanup(a.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie("sid")
		v := "none"
		if c != nil {
			v = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><html lang="fr"><title>Autre port</title><main><p id="cookie">%s</p></main></html>`, html.EscapeString(v))
	}))
	t.Cleanup(other.Close)

	b := newBrowser(t)

	if code := b.status(a.URL + "/missing"); code != http.StatusNotFound {
		t.Errorf("status(/missing) = %d, want 404", code)
	}
	if code := b.status(a.URL + "/form"); code != http.StatusOK {
		t.Errorf("status(/form) = %d, want 200", code)
	}
	if code := b.lastNavStatus(); code != http.StatusOK {
		t.Errorf("lastNavStatus() = %d, want 200", code)
	}

	shot := b.screenshotPNG()
	cfg, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if cfg.Width != phoneWidth || cfg.Height <= 2000 {
		t.Errorf("full-page screenshot is %d×%d, want %d wide and the whole page (over 2000) high", cfg.Width, cfg.Height, phoneWidth)
	}

	dir := t.TempDir()
	photo := filepath.Join(dir, "fuite évier.png")
	if err := os.WriteFile(photo, pixelPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	note := filepath.Join(dir, "devis.txt")
	if err := os.WriteFile(note, []byte("devis 120 €"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.fill("#subject", "Fuite sous l'évier")
	b.fill("#body", "Bonjour,\nÉlodie a vu une fuite.")
	b.choose("#kind", "b")
	b.setFiles("#files", photo, note)
	if code := b.submit("#send"); code != http.StatusOK {
		t.Fatalf("submit = %d, want 200 (after the 303)", code)
	}
	want := fmt.Sprintf("subject=Fuite sous l'évier|body=Bonjour,\r\nÉlodie a vu une fuite.|kind=b|files=fuite évier.png:%d,devis.txt:%d",
		len(pixelPNG), len("devis 120 €"))
	mu.Lock()
	received := got
	mu.Unlock()
	if received != want {
		t.Errorf("the server received\n  %q\nwant\n  %q", received, want)
	}
	b.waitVisible("#got")
	if s := b.text("#got"); !strings.Contains(s, "Élodie") {
		t.Errorf("text(#got) = %q", s)
	}

	b.navigate(a.URL + "/set")
	b.navigate(other.URL + "/")
	if s := b.text("#cookie"); s != "s3cr3t" {
		t.Errorf("the cookie set on %s reached %s as %q, want s3cr3t", a.URL, other.URL, s)
	}
}
