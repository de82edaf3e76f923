package clientnotify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/redmine"
)

func TestEventOf(t *testing.T) {
	cases := []struct {
		name string
		m    threadMessage
		want Event
	}{
		{"the client's request", threadMessage{AuthorKind: "client", Kind: "message", First: true}, EventReceived},
		{"the client's follow-up", threadMessage{AuthorKind: "client", Kind: "message"}, ""},
		{"the acknowledgment once in Redmine", threadMessage{AuthorKind: "system", Kind: "ack"}, EventTransmitted},
		{"a staff public note", threadMessage{AuthorKind: "staff", Kind: "message"}, EventAnswer},
		{"a status change", threadMessage{AuthorKind: "system", Kind: "status", ClientStatus: config.StatusInProgress}, EventStatus},
		{"closed by staff", threadMessage{AuthorKind: "system", Kind: "status", ClientStatus: config.StatusClosed}, EventClosed},
		{"closed by the client", threadMessage{AuthorKind: "system", Kind: "closed"}, ""},
		{"reopened by the client writing", threadMessage{AuthorKind: "system", Kind: "reopened"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := eventOf(tc.m); got != tc.want {
				t.Fatalf("eventOf = %q, want %q", got, tc.want)
			}
		})
	}
}

// The digest's schedule is the wall-clock time in the agency's zone, across
// daylight-saving changes.
func TestDailyAtNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	d := dailyAt{hour: 8, minute: 0, loc: paris}
	cases := []struct {
		name     string
		from     time.Time
		wantWall string
	}{
		{"before 8:00", time.Date(2026, 12, 3, 7, 59, 0, 0, paris), "2026-12-03 08:00 CET"},
		{"at 8:00 exactly: the next day", time.Date(2026, 12, 3, 8, 0, 0, 0, paris), "2026-12-04 08:00 CET"},
		{"after 8:00", time.Date(2026, 12, 3, 9, 0, 0, 0, paris), "2026-12-04 08:00 CET"},
		{"the night summer time starts", time.Date(2027, 3, 27, 22, 0, 0, 0, paris), "2027-03-28 08:00 CEST"},
		{"the night winter time starts", time.Date(2027, 10, 30, 22, 0, 0, 0, paris), "2027-10-31 08:00 CET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Next(tc.from.UTC()).In(paris).Format("2006-01-02 15:04 MST"); got != tc.wantWall {
				t.Fatalf("Next(%s) = %s, want %s", tc.from, got, tc.wantWall)
			}
		})
	}
}

// A staff answer's text is quoted as text in the HTML part, never as markup;
// the mail threads on its request and points at the preferences.
func TestEventMail(t *testing.T) {
	issue := redmine.IssueID(42)
	n := notification{ID: "n1", RequestID: "r1", Email: "camille@example.test", Event: EventAnswer, Reference: "D-2026-000001",
		Subject: "Fuite", AuthorName: "Camille", RedmineIssueID: &issue, Body: "Bonjour <script>alert(1)</script>", Files: []string{"devis.pdf"}}
	msg, err := eventMail(site{PublicURL: "https://espace.example", Agency: "Agence", Domain: "agence.example"}, n, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg.HTML, "<script>") || !strings.Contains(msg.HTML, "&lt;script&gt;") {
		t.Errorf("the HTML part does not escape the note: %s", msg.HTML)
	}
	for _, want := range []string{"Bonjour <script>alert(1)</script>", "devis.pdf", "https://espace.example/demandes/r1", "D-2026-000001", "n° 42"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("the text part lacks %q", want)
		}
	}
	if msg.Headers["In-Reply-To"] == "" || msg.Headers["In-Reply-To"] != msg.Headers["References"] ||
		msg.Headers["List-Unsubscribe"] != "<https://espace.example/desabonnement/tok>" ||
		msg.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("headers %v", msg.Headers)
	}
	again, _ := eventMail(site{PublicURL: "https://espace.example", Agency: "Agence", Domain: "agence.example"}, n, "tok")
	if again.MessageID != msg.MessageID {
		t.Error("the Message-ID of one notification changes between attempts")
	}
}

// An admin's template file redefines the embedded one; a file that does not
// parse, or that breaks a mail, is refused (the configuration with it too).
func TestTemplatesOverride(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		content string
		want    string // in the text part; "" when refused
	}{
		{"event text redefined", "event.txt.tmpl", `{{define "event.txt"}}Agence Dupont — {{.Reference}} : {{.Lead}}{{end}}`, "Agence Dupont — D-2026-000001"},
		{"syntax error", "event.txt.tmpl", `{{define "event.txt"}}{{.Reference{{end}}`, ""},
		{"unknown field", "event.txt.tmpl", `{{define "event.txt"}}{{.Nope}}{{end}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			tpl, err := loadTemplates(dir)
			if tc.want == "" {
				if err == nil {
					t.Fatal("a broken template was accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msg, err := eventMailWith(tpl, site{PublicURL: "https://x", Domain: "x"}, notification{ID: "1", Reference: "D-2026-000001", Event: EventReceived}, "")
			if err != nil || !strings.Contains(msg.Text, tc.want) {
				t.Fatalf("text %q (%v), want %q", msg.Text, err, tc.want)
			}
			if !strings.Contains(msg.HTML, "Bonjour") {
				t.Fatal("the HTML part lost its embedded template")
			}
		})
	}
}
