package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// The customer space in a real browser (headless Chromium, phone viewport
// 360×740), against the real binary and stack, as a tenant, an owner and
// another tenant use it:
//   - the tenant signs in through Kratos' real browser flow (the pages render
//     Kratos' form; Kratos sets its session cookie);
//   - files a repair with a photo: first with a file that is no photo (the
//     form comes back with its error, everything typed kept), then right;
//     the confirmation shows the dossier reference; the dashboard lists it
//     under "À traiter";
//   - a public staff note holding <script> and a status change made in
//     Redmine show on the request page (the script as text, never run);
//   - the tenant replies with a file (one note in Redmine, with the file) and
//     closes the request (Redmine's issue closed);
//   - the owner of the lot reads it, without reply or close form;
//   - another tenant gets the 404 page for its URL.
//
// axe-core runs on every page of the journey: no serious or critical
// violation. Screenshots go to docs/screenshots/ (the README shows them).
//
// Not parallel: it binds 127.0.0.1:8080, where kratos.yml's ui_urls point.
func TestBrowserJourney(t *testing.T) {
	d := newDeployment(t)
	srv := d.serveForBrowser("browser")
	base := srv.in.baseURL
	rm := newStaff(t, d.st)

	lot := "E2E-" + randomString(6, "0123456789")
	tenantID := kratostest.NewIdentity(t, kratostest.Options{First: "Camille", Last: "Martin", Verified: true,
		MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}, "mandates": []string{}}})
	ownerID := kratostest.NewIdentity(t, kratostest.Options{First: "Henri", Last: "Durand", Verified: true,
		MetadataPublic: map[string]any{"role": "owner", "lots": []string{lot}, "mandates": []string{"M-" + lot}}})
	otherID := kratostest.NewIdentity(t, kratostest.Options{First: "Inès", Last: "Petit", Verified: true,
		MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"E2E-OTHER"}, "mandates": []string{}}})
	api := &customer{t: t, token: kratostest.Login(t, tenantID.Email, tenantID.Password), lot: lot}

	dir := t.TempDir()
	photo := filepath.Join(dir, "fuite.png")
	meter := filepath.Join(dir, "compteur.png")
	notPhoto := filepath.Join(dir, "photo.jpg")
	for path, data := range map[string][]byte{photo: photoPNG(t, 64, 48), meter: photoPNG(t, 32, 32),
		notPhoto: []byte("#!/bin/sh\necho ceci n'est pas une photo\n")} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Sign in through Kratos' browser flow, from the page a visitor opens.
	b := newBrowser(t)
	browserLogin(t, b, base, tenantID, true)
	b.axe(t, "dashboard (empty)")

	// A new repair request: the category, then its form.
	b.navigate(base + "/demandes/nouvelle")
	b.axe(t, "new request: categories")
	b.submit(`a[href="/demandes/nouvelle?categorie=travaux"]`)
	b.waitVisible("#new-request")
	b.fill("#subject", "Fuite sous l'évier")
	b.fill("#body", "L'eau coule sous l'évier depuis hier soir.")
	b.fill("#location", "Cuisine, 2e étage")
	b.click(`input[name=urgency][value=high]`)
	b.click(`input[name=payer][value=unknown]`)
	b.setFiles("#attachments", notPhoto)
	if status := b.submit("#submit"); status != http.StatusUnsupportedMediaType {
		t.Fatalf("a file that is no photo: HTTP %d, want 415", status)
	}
	b.waitVisible("#error-summary")
	if s := b.text("#error-summary"); !strings.Contains(s, "JPEG") {
		t.Fatalf("error summary %q does not say which files are accepted", s)
	}
	if v := b.value("#subject"); v != "Fuite sous l'évier" {
		t.Fatalf("the subject typed was not kept: %q", v)
	}
	b.screenshot("nouvelle-demande-erreur")
	b.axe(t, "new request with an error")
	b.setFiles("#attachments", photo)
	if status := b.submit("#submit"); status != http.StatusOK {
		t.Fatalf("filing the request: HTTP %d after the redirect, want 200", status)
	}
	b.waitVisible("#dossier-reference")
	ref := strings.TrimSpace(b.text("#dossier-reference"))
	if !strings.HasPrefix(ref, d.prefix) {
		t.Fatalf("confirmation shows reference %q, want one of prefix %s", ref, d.prefix)
	}
	b.axe(t, "confirmation")
	b.submit(`a[href^="/demandes/"].button`)
	b.waitVisible("#thread")
	requestURL := b.location()
	requestID := strings.TrimPrefix(strings.TrimPrefix(requestURL, base), "/demandes/")

	b.navigate(base + "/")
	b.waitVisible("#col-new")
	if s := b.text("#col-new"); !strings.Contains(s, ref) || !strings.Contains(s, "Fuite sous l'évier") {
		t.Fatalf("the À traiter column does not list %s: %q", ref, s)
	}
	b.screenshot("tableau-de-bord")
	b.axe(t, "dashboard")

	// Staff answer in Redmine: a public note with markup and a status change.
	issue := api.waitIssue(base, requestID, 90*time.Second)
	rm.addNote(issue, "Bonjour, un plombier passe jeudi. <script>window.__xss = 1</script> <b>Merci</b>", false)
	rm.setStatus(issue, d.st.statusFeedbackID)
	waitUntil(t, pollInterval+30*time.Second, "the staff note and the status on the request page", func() (bool, string) {
		b.navigate(requestURL)
		th := b.text("#thread")
		st := b.text(".badge")
		return strings.Contains(th, "un plombier passe jeudi") && strings.Contains(st, "en attente de votre réponse"),
			"status " + st
	})
	if th := b.text("#thread"); !strings.Contains(th, "<script>window.__xss = 1</script>") || !strings.Contains(th, "<b>Merci</b>") {
		t.Fatalf("the staff note's markup is not shown as text: %q", th)
	}
	if b.eval("typeof window.__xss") != "undefined" || b.eval("document.querySelectorAll('#thread script, #thread b').length") != "0" {
		t.Fatal("the staff note's markup became part of the page")
	}
	b.screenshot("demande")
	b.axe(t, "request page")

	// The tenant replies with a file, then closes the request.
	b.fill("#body", "Merci, voici la photo du compteur.")
	b.setFiles("#attachments", meter)
	if status := b.submit("#send"); status != http.StatusOK {
		t.Fatalf("the reply: HTTP %d after the redirect, want 200", status)
	}
	if s := b.text(".notice"); !strings.Contains(s, "envoyé") {
		t.Fatalf("after the reply the notice says %q", s)
	}
	if s := b.text("#thread"); !strings.Contains(s, "voici la photo du compteur") || !strings.Contains(s, "compteur.png") {
		t.Fatalf("the reply is not in the thread: %q", s)
	}
	waitUntil(t, 90*time.Second, "the reply as one note with its file in Redmine", func() (bool, string) {
		is := rm.issue(issue)
		n := len(is.notesContaining("voici la photo du compteur"))
		files := 0
		for _, a := range rm.issueAttachments(issue) {
			if a.Filename == "compteur.png" {
				files++
			}
		}
		return n == 1 && files == 1, "notes " + strconv.Itoa(n) + ", files " + strconv.Itoa(files)
	})
	if status := b.submit("#close button"); status != http.StatusOK {
		t.Fatalf("closing: HTTP %d after the redirect, want 200", status)
	}
	if s := b.text(".notice"); !strings.Contains(s, "clôturée") {
		t.Fatalf("after closing the notice says %q", s)
	}
	if s := b.text(".badge"); !strings.Contains(s, "clôturé") {
		t.Fatalf("after closing, the status shows %q", s)
	}
	waitUntil(t, 90*time.Second, "the issue closed in Redmine", func() (bool, string) {
		is := rm.issue(issue)
		return is.Status.Name == stackSetting(t, d.st, "redmine.client_closed_status"), is.Status.Name
	})

	// The owner of the lot reads it, read-only.
	ob := newBrowser(t)
	browserLogin(t, ob, base, ownerID, false)
	if s := ob.text("#on-lots"); !strings.Contains(s, "Fuite sous l'évier") {
		t.Fatalf("the owner's dashboard does not list the request on the lot: %q", s)
	}
	ob.navigate(requestURL)
	ob.waitVisible("#read-only")
	if ob.eval("document.querySelector('#reply') === null && document.querySelector('#close') === null") != "true" {
		t.Fatal("the owner's view has a reply or close form")
	}
	ob.axe(t, "request page, owner read-only")

	// Another tenant: its URL is the 404 page.
	xb := newBrowser(t)
	browserLogin(t, xb, base, otherID, false)
	if status := xb.status(requestURL); status != http.StatusNotFound {
		t.Fatalf("another tenant opening %s: HTTP %d, want 404", requestURL, status)
	}
	if h := xb.text("h1"); h != "Page introuvable" {
		t.Fatalf("another tenant sees %q", h)
	}
	if s := xb.text("main"); strings.Contains(s, "Fuite") || strings.Contains(s, ref) {
		t.Fatalf("the 404 page tells something of the request: %q", s)
	}
	xb.axe(t, "404 page")

	got := rm.issuesOfPrefix(d.prefix)
	if len(got) != 1 || len(got[ref]) != 1 {
		t.Fatalf("issues of prefix %s: %v, want exactly one for %s", d.prefix, got, ref)
	}
	t.Logf("counts: 1 request %s, 1 issue #%d, reply 1 note + 1 file, staff note shown as text, owner read-only, other tenant 404", ref, issue)
}

// browserLogin opens the site as a visitor without session and signs in
// through the pages and Kratos' browser flow; it ends on the dashboard. The
// first sign-in also checks the login page (axe, screenshot).
func browserLogin(t *testing.T, b *browser, base string, id kratostest.Identity, first bool) {
	t.Helper()
	b.navigate(base + "/")
	b.waitVisible(`input[name=identifier]`)
	if !strings.Contains(b.location(), "/connexion?flow=") {
		t.Fatalf("a visitor without session lands on %s, want the login page with a Kratos flow", b.location())
	}
	b.fill(`input[name=identifier]`, id.Email)
	b.fill(`input[name=password]`, id.Password)
	if first {
		b.screenshot("connexion")
		b.axe(t, "login")
	}
	b.submit(`button[name=method][value=password]`)
	b.waitVisible("#col-new")
}
