package e2e

import (
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"passerelle/internal/testenv"
	"passerelle/kratos/kratostest"
)

// The agency brings a tenant in, as it does on a move-in day, and the tenant
// gets in, in a real browser, on the real binary and stack:
//   - `passerelle identities invite --from` a time already passed stores the
//     invitation; the running serve's periodic job sends it (one mail, in
//     French, with a link and a code);
//   - headless Chromium opens the mailed link (the customer space's
//     /recuperation page, Kratos' recovery flow), types the code, lands on
//     /parametres, chooses a password, and lands on the dashboard;
//   - the new password logs in through Kratos; `identities deactivate` then
//     ends the browser's session: the pages send it back to the login page.
//
// axe-core runs on the recovery and settings pages. Not parallel: it binds
// 127.0.0.1:8080, where kratos.yml's ui_urls point.
func TestBrowserInvitation(t *testing.T) {
	d := newDeployment(t)
	srv := d.serveForBrowser("invitation")
	base := srv.in.baseURL

	email := kratostest.UniqueEmail()
	t.Cleanup(func() { kratostest.DeleteByEmail(t, email) })
	lot := "E2E-" + randomString(6, "0123456789")
	if code, out := d.run("identities", "invite", "--config", srv.in.path, "--email", email, "--name", "Noé Lambert",
		"--role", "tenant", "--lot", lot, "--from", time.Now().AddDate(0, 0, -1).Format("2006-01-02")); code != 0 {
		t.Fatalf("identities invite --from: exit %d\n%s", code, out)
	}
	var inv mailedInvitation
	waitUntil(t, 3*time.Minute, "the serve's periodic job mailing the scheduled invitation", func() (bool, string) {
		list := mailedInvitations(t, email)
		if len(list) > 0 {
			inv = list[0]
		}
		return len(list) > 0, "no invitation in the Maildir yet"
	})
	if n := len(mailedInvitations(t, email)); n != 1 || inv.link == "" || inv.code == "" {
		t.Fatalf("%d invitations (link %q, code set %v), want exactly 1 with a link and a code", n, inv.link, inv.code != "")
	}
	if !strings.HasPrefix(inv.link, base+"/recuperation?flow=") {
		t.Fatalf("the invitation links to %q, want the customer space's recovery page", inv.link)
	}

	b := newBrowser(t)
	b.navigate(inv.link)
	b.waitVisible(`input[name=code]`)
	b.axe(t, "invitation: recovery code")
	b.fill(`input[name=code]`, inv.code)
	b.submit(`button[name=method][value=code]`)
	b.waitVisible(`input[name=password]`)
	if !strings.Contains(b.location(), "/parametres?flow=") {
		t.Fatalf("after the code the browser is on %s, want the settings page", b.location())
	}
	b.axe(t, "invitation: choose a password")
	const password = "Noe-Lambert-2026!"
	b.fill(`input[name=password]`, password)
	b.submit(`button[name=method][value=password]`)
	b.waitVisible("#col-new")
	if loc := b.location(); strings.TrimSuffix(loc, "/") != base {
		t.Fatalf("after choosing a password the browser is on %s, want the dashboard %s/", loc, base)
	}
	kratostest.Login(t, email, password)

	if code, out := d.run("identities", "deactivate", "--config", srv.in.path, email); code != 0 {
		t.Fatalf("identities deactivate: exit %d\n%s", code, out)
	}
	b.navigate(base + "/")
	b.waitVisible(`input[name=identifier]`)
	if !strings.Contains(b.location(), "/connexion") {
		t.Fatalf("a deactivated client's browser is on %s, want the login page", b.location())
	}
}

// mailedInvitation is an invitation the SMTP catcher holds.
type mailedInvitation struct{ link, code string }

var (
	invitationLinkRE = regexp.MustCompile(`https?://\S+[?&]flow=[0-9a-f-]{36}`)
	invitationCodeRE = regexp.MustCompile(`saisissez ce code :\s+(\d{6})`)
)

// mailedInvitations reads the catcher's Maildir for the invitations to an
// address (X-Passerelle-Kind: invitation) and their link and code.
func mailedInvitations(t *testing.T, to string) []mailedInvitation {
	t.Helper()
	maildir := testenv.Get(t, "MAILDIR")
	var out []mailedInvitation
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(maildir, sub))
		for _, e := range entries {
			raw, err := os.ReadFile(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				continue
			}
			m, err := mail.ReadMessage(strings.NewReader(string(raw)))
			if err != nil || m.Header.Get("X-Passerelle-Kind") != "invitation" || !strings.Contains(m.Header.Get("To"), to) {
				continue
			}
			_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
			mr := multipart.NewReader(m.Body, params["boundary"])
			var inv mailedInvitation
			for p, err := mr.NextPart(); err == nil; p, err = mr.NextPart() {
				if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
					continue
				}
				body, _ := io.ReadAll(p) // quoted-printable decoded
				inv.link = invitationLinkRE.FindString(string(body))
				if c := invitationCodeRE.FindStringSubmatch(string(body)); c != nil {
					inv.code = c[1]
				}
			}
			out = append(out, inv)
		}
	}
	return out
}
