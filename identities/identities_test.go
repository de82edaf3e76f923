package identities

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

// newService returns a Service on the stack's Kratos and SMTP catcher, and
// a throwaway database.
func newService(t *testing.T) *Service {
	t.Helper()
	return newServiceWith(t, "")
}

// newServiceWith is newService with notifications.templates_dir set to dir.
func newServiceWith(t *testing.T, templatesDir string) *Service {
	t.Helper()
	env := testenv.Env(t, "SMTP_ADDR")
	cfg := testenv.ExampleConfig(t)
	cfg.Kratos.AdminURL = kratostest.AdminURL(t)
	cfg.PublicURL = "http://127.0.0.1:8080"
	cfg.SMTP = config.SMTP{Addr: env[0], TLS: "none", From: "Agence Exemple <no-reply@agence.test>"}
	cfg.Notifications.TemplatesDir = templatesDir
	pool, _ := testenv.NewPool(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	s, err := New(Config{Holder: config.NewHolder(cfg), Pool: pool, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newEmail returns a unique address whose identity is deleted when the test ends.
func newEmail(t *testing.T) string {
	e := kratostest.UniqueEmail()
	t.Cleanup(func() { kratostest.DeleteByEmail(t, e) })
	return e
}

// invitation is a mailed invitation.
type invitation struct {
	subject, text, html, link, code string
}

var (
	linkRE = regexp.MustCompile(`https?://\S+[?&]flow=[0-9a-f-]{36}`)
	codeRE = regexp.MustCompile(`saisissez ce code :\s+(\d{6})`)
)

// invitations returns the invitations the SMTP catcher holds for to.
func invitations(t *testing.T, to string) []invitation {
	t.Helper()
	dir := testenv.Get(t, "MAILDIR")
	var out []invitation
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil || !strings.Contains(string(b), "X-Passerelle-Kind: invitation") || !strings.Contains(string(b), "To: <"+to+">") {
				continue
			}
			m, err := mail.ReadMessage(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			var inv invitation
			inv.subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
			mr := multipart.NewReader(m.Body, params["boundary"])
			for p, err := mr.NextPart(); err == nil; p, err = mr.NextPart() {
				body, _ := io.ReadAll(p)
				if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
					inv.html = string(body)
				} else {
					inv.text = string(body)
				}
			}
			inv.link = linkRE.FindString(inv.text)
			if m := codeRE.FindStringSubmatch(inv.text); m != nil {
				inv.code = m[1]
			}
			out = append(out, inv)
		}
	}
	return out
}

func whoamiCookie(t *testing.T, ck *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, kratostest.PublicURL(t)+"/sessions/whoami", nil)
	req.AddCookie(ck)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An invitation creates the identity with its metadata, unverified, and
// mails exactly one French invitation whose link and code really let the
// client choose a password; a second invite is refused and changes nothing;
// reinvite mails a fresh, working code.
func TestInviteReinviteAndTheCodeWorks(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	email := newEmail(t)
	rec := kratos.ClientRecord{Email: strings.ToUpper(email), First: "Camille", Last: "Martin", Role: config.RoleTenant, Lots: []string{"A12", "B3"}}
	inv, err := s.Invite(ctx, rec)
	if err != nil || !inv.Created {
		t.Fatalf("invite: %+v %v", inv, err)
	}
	c, err := s.Directory().FindClient(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != inv.ID || c.Role != config.RoleTenant || strings.Join(c.Lots, ",") != "A12,B3" || len(c.Mandates) != 0 ||
		c.Name() != "Camille Martin" || c.State != "active" || c.Verified || c.HasPassword {
		t.Fatalf("identity: %+v", c)
	}
	if d := time.Until(inv.ExpiresAt); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("expires in %v, want 48 h", d)
	}
	mails := invitations(t, email)
	if len(mails) != 1 {
		t.Fatalf("%d invitations mailed, want 1", len(mails))
	}
	m := mails[0]
	for _, want := range []string{"Bonjour Camille Martin,", "Pour choisir votre mot de passe", "valables jusqu'au", email} {
		if !strings.Contains(m.text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.text)
		}
	}
	if m.subject != "Agence Exemple : votre accès à l'espace client" || m.link == "" || m.code == "" || !strings.Contains(m.html, m.code) {
		t.Fatalf("mail: subject %q link %q code %q", m.subject, m.link, m.code)
	}

	_, err = s.Invite(ctx, rec)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "reinvite --email "+email) {
		t.Fatalf("second invite: %v", err)
	}
	if n := len(invitations(t, email)); n != 1 {
		t.Fatalf("second invite mailed: %d invitations", n)
	}

	again, err := s.Reinvite(ctx, email)
	if err != nil || again.ID != inv.ID || again.Created {
		t.Fatalf("reinvite: %+v %v", again, err)
	}
	mails = invitations(t, email)
	if len(mails) != 2 {
		t.Fatalf("after reinvite: %d invitations, want 2", len(mails))
	}
	fresh := mails[0]
	if fresh.code == m.code {
		fresh = mails[1]
	}
	if fresh.code == m.code {
		t.Fatal("reinvite mailed the same code")
	}
	ck := kratostest.AcceptInvitation(t, fresh.link, fresh.code, "Un-mot-de-passe-2026")
	if st := whoamiCookie(t, ck); st != http.StatusOK {
		t.Fatalf("session after the invitation: whoami %d", st)
	}
	kratostest.Login(t, email, "Un-mot-de-passe-2026")
	if c, err := s.Directory().FindClient(ctx, email); err != nil || !c.HasPassword {
		t.Fatalf("after the invitation: has a password %v, %v", c.HasPassword, err)
	}
	all, err := s.Directory().ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(c kratos.Client) bool { return c.ID == inv.ID })
	if i < 0 || all[i].LastLogin.IsZero() || time.Since(all[i].LastLogin) > time.Minute || !all[i].HasPassword || all[i].Email != email {
		t.Fatalf("listed: %+v", all[max(i, 0)])
	}
	if _, err := s.Reinvite(ctx, kratostest.UniqueEmail()); err == nil || !strings.Contains(err.Error(), "aucune identité") {
		t.Fatalf("reinvite of an unknown address: %v", err)
	}
}

// A deactivation scheduled in the past runs on the next run, once: the
// identity is inactive and its session token stops working. An invitation
// scheduled in the past is created and mailed on that run; a second run
// does nothing.
func TestScheduledActionsRunOnce(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"A1"}}})
	tok := kratostest.Login(t, who.Email, who.Password)
	past := time.Now().Add(-time.Hour)
	if _, err := s.ScheduleDeactivate(ctx, who.ID, past); err != nil { // by its id
		t.Fatal(err)
	}
	if _, err := s.ScheduleDeactivate(ctx, who.Email, past); !errors.Is(err, ErrAlreadyScheduled) {
		t.Fatalf("second schedule: %v", err)
	}
	later := newEmail(t)
	if _, err := s.ScheduleDeactivate(ctx, later, past); err == nil {
		t.Fatal("deactivation of an unknown address scheduled")
	}
	invited := kratos.ClientRecord{Email: later, First: "Léa", Last: "Petit", Role: config.RoleOwner, Mandates: []string{"M-9"}}
	if _, err := s.ScheduleInvite(ctx, invited, past); err != nil {
		t.Fatal(err)
	}
	future := newEmail(t)
	if _, err := s.ScheduleInvite(ctx, kratos.ClientRecord{Email: future, Last: "Plus Tard", Role: config.RoleTenant, Lots: []string{"C"}}, time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleInvite(ctx, kratos.ClientRecord{Email: who.Email, Last: "X", Role: config.RoleTenant, Lots: []string{"C"}}, past); !errors.Is(err, ErrExists) {
		t.Fatalf("invite of an existing identity scheduled: %v", err)
	}

	st, err := s.RunDue(ctx)
	if err != nil || st.Done != 2 || st.Failed != 0 {
		t.Fatalf("run: %+v %v", st, err)
	}
	if c, err := s.Directory().FindClient(ctx, who.Email); err != nil || c.State != "inactive" {
		t.Fatalf("deactivated: %+v %v", c, err)
	}
	if st := whoamiToken(t, tok); st != http.StatusUnauthorized {
		t.Fatalf("session after the scheduled deactivation: whoami %d, want 401", st)
	}
	if c, err := s.Directory().FindClient(ctx, later); err != nil || c.Role != config.RoleOwner || strings.Join(c.Mandates, ",") != "M-9" {
		t.Fatalf("scheduled invitation: %+v %v", c, err)
	}
	if n := len(invitations(t, later)); n != 1 {
		t.Fatalf("scheduled invitation: %d mails", n)
	}
	if _, err := s.Directory().FindClient(ctx, future); !errors.Is(err, kratos.ErrNotFound) {
		t.Fatalf("a future invitation ran: %v", err)
	}
	if st, err := s.RunDue(ctx); err != nil || st.Done+st.Failed != 0 {
		t.Fatalf("second run: %+v %v", st, err)
	}
	if n := len(invitations(t, later)); n != 1 {
		t.Fatalf("second run mailed again: %d mails", n)
	}
	list, err := s.Scheduled(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("scheduled: %+v %v", list, err)
	}
	for _, a := range list {
		if (a.DoneAt == nil) != (a.Email == future) || a.Error != "" {
			t.Errorf("action %+v", a)
		}
	}
}

// An invitation whose earlier attempt created the identity but sent no mail
// (a crash, SMTP down) mails it on the next run instead of stopping at
// "already there".
func TestScheduledInviteAfterAPartialAttempt(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	email := newEmail(t)
	rec := kratos.ClientRecord{Email: email, Last: "Durand", Role: config.RoleTenant, Lots: []string{"A"}}
	if _, err := s.ScheduleInvite(ctx, rec, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Directory().CreateClient(ctx, rec); err != nil { // the attempt that crashed after creating
		t.Fatal(err)
	}
	if st, err := s.RunDue(ctx); err != nil || st.Done != 1 {
		t.Fatalf("run: %+v %v", st, err)
	}
	if n := len(invitations(t, email)); n != 1 {
		t.Fatalf("%d invitations, want 1", n)
	}
	list, _ := s.Scheduled(ctx)
	if len(list) != 1 || !strings.Contains(list[0].Outcome, "invitation envoyée") {
		t.Fatalf("outcome: %+v", list)
	}
}

func whoamiToken(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, kratostest.PublicURL(t)+"/sessions/whoami", nil)
	req.Header.Set("X-Session-Token", token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The agency's own wording of the invitation, from notifications.templates_dir,
// is what the client receives; the parts it does not redefine stay embedded.
// An override that breaks the mail refuses the invitation and mails nothing.
func TestInvitationTemplateOverride(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	override := `{{define "invitation.subject"}}Bienvenue chez {{.Agency}}{{end}}` +
		`{{define "invitation.txt"}}Cher client, votre lien : {{.Link}} — saisissez ce code : {{.Code}}{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "agence.txt.tmpl"), []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	email := newEmail(t)
	if _, err := newServiceWith(t, dir).Invite(ctx, kratos.ClientRecord{Email: email, First: "Ana", Last: "Lopes", Role: config.RoleTenant, Lots: []string{"A1"}}); err != nil {
		t.Fatal(err)
	}
	mails := invitations(t, email)
	if len(mails) != 1 {
		t.Fatalf("%d invitations mailed, want 1", len(mails))
	}
	m := mails[0]
	if m.subject != "Bienvenue chez Agence Exemple" || !strings.HasPrefix(m.text, "Cher client, votre lien : http") || m.code == "" {
		t.Errorf("the override was not used: subject %q, text %q", m.subject, m.text)
	}
	if !strings.Contains(m.html, "Bonjour") {
		t.Errorf("the HTML part lost its embedded template:\n%s", m.html)
	}

	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "agence.txt.tmpl"), []byte(`{{define "invitation.txt"}}{{.Nope}}{{end}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := newEmail(t)
	_, err := newServiceWith(t, broken).Invite(ctx, kratos.ClientRecord{Email: other, First: "Léa", Last: "Roux", Role: config.RoleTenant, Lots: []string{"A1"}})
	if err == nil || !strings.Contains(err.Error(), "notifications.templates_dir") {
		t.Fatalf("a broken override: %v, want an error naming notifications.templates_dir", err)
	}
	if n := len(invitations(t, other)); n != 0 {
		t.Errorf("%d invitations mailed with a broken template, want 0", n)
	}
}
