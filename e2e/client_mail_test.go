package e2e

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passerelle/internal/testenv"
	"passerelle/kratos/kratostest"
)

// Clients hear about their requests by e-mail, on the running binary with
// the stack's SMTP server: each event gives exactly one mail to the
// request's author (received with the dossier reference, transmitted with the
// Redmine number, the staff answer with its text, the status change), a
// private note none; the mails of one request thread together
// (In-Reply-To/References), carry Auto-Submitted and List-Unsubscribe. A
// client who chose the daily digest gets the acknowledgment at once and the
// rest in one mail at the digest time (set a minute or two ahead here). A
// one-click unsubscribe (RFC 8058) from a mail stops the next ones.
func TestClientsHearAboutTheirRequestsByMail(t *testing.T) {
	t.Parallel() // no service stopped, its own addresses and deployment
	d := newDeployment(t)
	paris, _ := time.LoadLocation("Europe/Paris")
	// The next whole minute at least 45 s away: time to file and answer first.
	digestAt := time.Now().In(paris).Add(time.Minute).Truncate(time.Minute)
	if time.Until(digestAt) < 45*time.Second {
		digestAt = digestAt.Add(time.Minute)
	}
	in := d.writeConfig("mail", map[string]string{
		"notifications.sweep_interval": "1s",
		"notifications.digest_time":    digestAt.Format("15:04"),
	})
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)

	// An immediate client.
	_, email, token := kratostest.NewClient(t, "tenant", []string{"E2E-M1"}, nil)
	c := &customer{t: t, token: token, lot: "E2E-M1"}
	req := c.create(base, "Volet bloqué "+d.prefix, "Le volet roulant de la chambre ne descend plus.")
	// A digest client.
	_, email2, token2 := kratostest.NewClient(t, "tenant", []string{"E2E-M2"}, nil)
	c2 := &customer{t: t, token: token2, lot: "E2E-M2"}
	setDaily(t, base, token2)
	req2 := c2.create(base, "Sonnette muette "+d.prefix, "La sonnette ne fonctionne plus.")

	issue := c.waitIssue(base, req.ID, 90*time.Second)
	issue2 := c2.waitIssue(base, req2.ID, 90*time.Second)
	waitMails(t, email, 60*time.Second, "received and transmitted", map[string]int{"received": 1, "transmitted": 1})
	got := clientMails(t, email)
	if m := got["received"][0]; !strings.Contains(m.subject, req.Reference) || !strings.Contains(m.text, "numéro de dossier est "+req.Reference) {
		t.Fatalf("the acknowledgment does not give the dossier reference: %q / %q", m.subject, m.text)
	}
	if m := got["transmitted"][0]; !strings.Contains(m.subject, fmt.Sprintf("n° %d", issue)) {
		t.Fatalf("the transmission mail does not give the Redmine number #%d: %q", issue, m.subject)
	}

	rm.addNote(issue, "Note interne secrète : voir avec le syndic.", true)
	rm.addNote(issue, "Bonjour, le technicien passe jeudi matin.", false)
	rm.setStatus(issue, d.st.statusFeedbackID)
	rm.addNote(issue2, "L'électricien passe demain.", false)
	waitMails(t, email, pollInterval+60*time.Second, "answer and status", map[string]int{"received": 1, "transmitted": 1, "answer": 1, "status": 1})
	got = clientMails(t, email)
	if m := got["answer"][0]; !strings.Contains(m.text, "le technicien passe jeudi matin") {
		t.Fatalf("the answer mail lacks the note's text: %q", m.text)
	}
	threadRoot := ""
	ids := map[string]bool{}
	for ev, list := range got {
		for _, m := range list {
			if strings.Contains(m.text, "secrète") || strings.Contains(m.html, "secrète") {
				t.Fatalf("the %s mail holds the private note", ev)
			}
			if m.autoSubmitted != "auto-generated" || !strings.HasPrefix(m.listUnsubscribe, "<"+base+"/desabonnement/") ||
				m.listUnsubscribePost != "List-Unsubscribe=One-Click" {
				t.Errorf("%s mail: Auto-Submitted %q, List-Unsubscribe %q, List-Unsubscribe-Post %q", ev, m.autoSubmitted,
					m.listUnsubscribe, m.listUnsubscribePost)
			}
			if threadRoot == "" {
				threadRoot = m.inReplyTo
			}
			if m.inReplyTo == "" || m.inReplyTo != threadRoot || m.references != threadRoot {
				t.Errorf("%s mail: In-Reply-To %q References %q, want the request's thread %q", ev, m.inReplyTo, m.references, threadRoot)
			}
			if ids[m.messageID] {
				t.Errorf("two mails with Message-ID %s", m.messageID)
			}
			ids[m.messageID] = true
			if !strings.Contains(m.text, base+"/demandes/"+req.ID) {
				t.Errorf("%s mail does not link to the request's page", ev)
			}
		}
	}

	// One-click unsubscribe (RFC 8058), as a mail provider does it: a POST to
	// the List-Unsubscribe address, no session. The next staff answer reaches
	// the thread, and no mail.
	unsub := strings.Trim(got["answer"][0].listUnsubscribe, "<>")
	resp, err := http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: HTTP %d", resp.StatusCode)
	}
	rm.addNote(issue, "Le technicien a changé la sangle du volet.", false)
	waitUntil(t, pollInterval+30*time.Second, "the answer after unsubscribing in the thread", func() (bool, string) {
		return c.get(base, req.ID).countBodies("changé la sangle") == 1, "not yet"
	})
	time.Sleep(5 * time.Second) // several sweeps
	waitMails(t, email, time.Second, "no mail after unsubscribing", map[string]int{"received": 1, "transmitted": 1, "answer": 1, "status": 1})

	// The digest client: only the acknowledgment until the digest time, then
	// one digest with the rest.
	if m := clientMails(t, email2); len(m["received"]) != 1 || len(m["answer"]) != 0 || len(m["transmitted"]) != 0 {
		t.Fatalf("digest client before the digest: %v", describeClientMails(m))
	}
	waitMails(t, email2, time.Until(digestAt)+90*time.Second, "the digest", map[string]int{"received": 1, "digest": 1})
	dg := clientMails(t, email2)["digest"][0]
	if !strings.Contains(dg.text, req2.Reference) || !strings.Contains(dg.text, "électricien passe demain") ||
		!strings.Contains(dg.text, "transmise à l'agence") {
		t.Fatalf("the digest lacks the day's events: %q", dg.text)
	}
	// Nothing more arrives (each event once).
	time.Sleep(5 * time.Second)
	waitMails(t, email, time.Second, "no more mails", map[string]int{"received": 1, "transmitted": 1, "answer": 1, "status": 1})
	waitMails(t, email2, time.Second, "no more mails", map[string]int{"received": 1, "digest": 1})
	t.Logf("counts: immediate client 4 mails (received, transmitted, answer, status), private note 0; digest client 1 + 1 digest at %s", digestAt.Format("15:04"))
}

// setDaily chooses the daily digest through the preferences page.
func setDaily(t *testing.T, base, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/preferences", strings.NewReader("email_mode=daily"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Session-Token", token)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /preferences: %d", resp.StatusCode)
	}
}

// clientMail is one mail to a client, as the SMTP catcher stored it.
type clientMail struct {
	subject, text, html, messageID, inReplyTo, references, autoSubmitted, listUnsubscribe, listUnsubscribePost string
}

// clientMails reads the catcher's Maildir: the client mails (X-Passerelle-Event)
// to one address, by event.
func clientMails(t *testing.T, to string) map[string][]clientMail {
	t.Helper()
	maildir := testenv.Get(t, "MAILDIR")
	out := map[string][]clientMail{}
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(maildir, sub))
		for _, e := range entries {
			f, err := os.Open(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				continue
			}
			m, err := mail.ReadMessage(f)
			if err != nil || m.Header.Get("X-Passerelle-Event") == "" || !strings.Contains(strings.ToLower(m.Header.Get("To")), strings.ToLower(to)) {
				f.Close()
				continue
			}
			subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			cm := clientMail{subject: subj, messageID: m.Header.Get("Message-Id"), inReplyTo: m.Header.Get("In-Reply-To"),
				references: m.Header.Get("References"), autoSubmitted: m.Header.Get("Auto-Submitted"),
				listUnsubscribe: m.Header.Get("List-Unsubscribe"), listUnsubscribePost: m.Header.Get("List-Unsubscribe-Post")}
			cm.text, cm.html = mailBodies(m)
			out[m.Header.Get("X-Passerelle-Event")] = append(out[m.Header.Get("X-Passerelle-Event")], cm)
			f.Close()
		}
	}
	return out
}

// mailBodies returns the text/plain and text/html parts of a mail
// (quoted-printable decoded by mime/multipart).
func mailBodies(m *mail.Message) (text, html string) {
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return "", ""
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(m.Body)
		return string(b), ""
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return text, html
		}
		b, _ := io.ReadAll(p)
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		}
	}
}

// waitMails waits until the address has exactly want mails per event (and
// no other event); it fails with what it saw.
func waitMails(t *testing.T, to string, bound time.Duration, what string, want map[string]int) {
	t.Helper()
	waitUntil(t, bound, what+" mails to "+to, func() (bool, string) {
		got := clientMails(t, to)
		if len(got) != len(want) {
			return false, describeClientMails(got)
		}
		for ev, n := range want {
			if len(got[ev]) != n {
				return false, describeClientMails(got)
			}
		}
		return true, ""
	})
}

func describeClientMails(m map[string][]clientMail) string {
	var parts []string
	for ev, list := range m {
		for _, cm := range list {
			parts = append(parts, fmt.Sprintf("%s: %q", ev, cm.subject))
		}
	}
	if len(parts) == 0 {
		return "no mail"
	}
	return strings.Join(parts, "; ")
}
