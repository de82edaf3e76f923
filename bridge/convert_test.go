package bridge

import (
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

func testConfig() *config.Config {
	return &config.Config{
		Redmine:  config.Redmine{StaffSignature: "first_name", GenericSignature: "Votre gestionnaire"},
		Statuses: config.Statuses{Map: map[string]config.ClientStatus{"New": config.StatusNew, "In Progress": config.StatusInProgress, "Feedback": config.StatusWaitingClient, "Closed": config.StatusClosed}, Default: config.StatusInProgress},
	}
}

func TestPlanChanges(t *testing.T) {
	const syncUser = 7
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	statuses := map[int]string{1: "New", 2: "In Progress", 4: "Feedback", 5: "Closed"}
	statusName := func(id int) (string, bool) { s, ok := statuses[id]; return s, ok }
	staff := redmine.IDName{ID: 3, Name: "Marie Lefèvre"}
	att := redmine.Attachment{ID: 90, Filename: "devis.pdf"}
	cases := []struct {
		name     string
		journals []redmine.Journal
		cfg      func(*config.Config)
		want     []string // one line per change: journal:note|status|attachments
	}{
		{"public note", []redmine.Journal{{ID: 1, User: staff, Notes: "Bonjour", CreatedOn: at}}, nil, []string{"1:Marie:Bonjour:|"}},
		{"private note dropped", []redmine.Journal{{ID: 1, User: staff, Notes: "secret", PrivateNotes: true}}, nil, nil},
		{"own journal dropped", []redmine.Journal{{ID: 1, User: redmine.IDName{ID: syncUser, Name: "Passerelle"}, Notes: "client text",
			Details: []redmine.JournalDetail{{Property: "attr", Name: "status_id", NewValue: "5"}}}}, nil, nil},
		{"status change", []redmine.Journal{{ID: 2, User: staff, Details: []redmine.JournalDetail{{Property: "attr", Name: "status_id", OldValue: "1", NewValue: "4"}}}}, nil, []string{"2:Marie::Feedback=waiting_client|"}},
		{"note and status in one journal", []redmine.Journal{{ID: 3, User: staff, Notes: "Merci de rappeler", Details: []redmine.JournalDetail{{Property: "attr", Name: "status_id", NewValue: "2"}}}}, nil, []string{"3:Marie:Merci de rappeler:In Progress=in_progress|"}},
		{"attachment with public note", []redmine.Journal{{ID: 4, User: staff, Notes: "Le devis", Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}}}}, nil, []string{"4:Marie:Le devis:|devis.pdf"}},
		// Issue 10 item 1: Redmine 5.0.4 splits "private note + file" into a
		// public journal holding only the details (notes null, seen as "")
		// and a private one holding the note; the sync user sees the first.
		{"file split off a private note not passed on", []redmine.Journal{
			{ID: 10, User: staff, Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}}},
			{ID: 11, User: staff, Notes: "NOTE PRIVÉE : marge incluse", PrivateNotes: true}}, nil, nil},
		{"file and status split off a private note: only the status passes", []redmine.Journal{
			{ID: 12, User: staff, Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}, {Property: "attr", Name: "status_id", OldValue: "1", NewValue: "2"}}},
			{ID: 13, User: staff, Notes: "NOTE PRIVÉE", PrivateNotes: true}}, nil, []string{"12:Marie::In Progress=in_progress|"}},
		{"file attached alone not passed on", []redmine.Journal{{ID: 14, User: staff, Notes: "", Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}}}}, nil, nil},
		{"file with a blank note not passed on", []redmine.Journal{{ID: 15, User: staff, Notes: " \n\t", Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}}}}, nil, nil},
		{"file with public note and status in one journal", []redmine.Journal{{ID: 16, User: staff, Notes: "Le devis, en attente de votre accord", Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}, {Property: "attr", Name: "status_id", OldValue: "2", NewValue: "4"}}}}, nil, []string{"16:Marie:Le devis, en attente de votre accord:Feedback=waiting_client|devis.pdf"}},
		{"file of the issue without a journal not passed on", []redmine.Journal{{ID: 17, User: staff, Notes: "Bonjour"}}, nil, []string{"17:Marie:Bonjour:|"}},
		{"file in a private journal not passed on", []redmine.Journal{{ID: 18, User: staff, Notes: "interne", PrivateNotes: true, Details: []redmine.JournalDetail{{Property: "attachment", Name: "90", NewValue: "devis.pdf"}}}}, nil, nil},
		{"unknown status id ignored", []redmine.Journal{{ID: 5, User: staff, Details: []redmine.JournalDetail{{Property: "attr", Name: "status_id", NewValue: "99"}}}}, nil, nil},
		{"other field changes ignored", []redmine.Journal{{ID: 6, User: staff, Details: []redmine.JournalDetail{{Property: "attr", Name: "assigned_to_id", NewValue: "3"}}}}, nil, nil},
		{"generic signature", []redmine.Journal{{ID: 7, User: staff, Notes: "Bonjour"}}, func(c *config.Config) { c.Redmine.StaffSignature = "generic" }, []string{"7:Votre gestionnaire:Bonjour:|"}},
		{"journal order", []redmine.Journal{{ID: 9, User: staff, Notes: "second"}, {ID: 8, User: staff, Notes: "first"}}, nil, []string{"8:Marie:first:|", "9:Marie:second:|"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			if c.cfg != nil {
				c.cfg(cfg)
			}
			issue := redmine.Issue{Journals: c.journals, Attachments: []redmine.Attachment{att}}
			var got []string
			for _, ch := range PlanChanges(cfg, issue, syncUser, statusName) {
				st := ""
				if ch.Status != "" {
					st = ch.Status + "=" + string(ch.ClientStatus)
				}
				var names []string
				for _, a := range ch.Attachments {
					names = append(names, a.Filename)
				}
				got = append(got, strings.Join([]string{itoa(int(ch.JournalID)), ch.Author, ch.Note, st}, ":")+"|"+strings.Join(names, ","))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestIssueIDFromHook(t *testing.T) {
	cases := []struct {
		name string
		body string
		want redmine.IssueID
		err  bool
	}{
		{"redmine_webhook plugin", `{"payload":{"action":"updated","issue":{"id":42,"subject":"x"},"journal":{"private_notes":true}}}`, 42, false},
		{"native issue", `{"issue":{"id":7}}`, 7, false},
		{"native data.issue", `{"type":"issue.updated","data":{"issue":{"id":8}}}`, 8, false},
		{"native data id", `{"type":"issue.created","data":{"id":9}}`, 9, false},
		{"not an issue event", `{"type":"wiki.updated","data":{"id":9}}`, 0, true},
		{"not JSON", `hello`, 0, true},
		{"negative id", `{"issue":{"id":-1}}`, 0, true},
		{"empty", `{}`, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := issueIDFromHook([]byte(c.body))
			if (err != nil) != c.err || got != c.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestRedmineHookAuthentic(t *testing.T) {
	body := []byte(`{"issue":{"id":1}}`)
	cases := []struct {
		name   string
		url    string
		header map[string]string
		want   bool
	}{
		{"token in url", "/hooks/redmine?token=s3cret", nil, true},
		{"token in header", "/hooks/redmine", map[string]string{"X-Passerelle-Token": "s3cret"}, true},
		{"hmac signature", "/hooks/redmine", map[string]string{"X-Redmine-Signature-256": "sha256=" + HMACHex("s3cret", body)}, true},
		{"signature of another body", "/hooks/redmine", map[string]string{"X-Redmine-Signature-256": "sha256=" + HMACHex("s3cret", []byte("{}"))}, false},
		{"signature without prefix", "/hooks/redmine", map[string]string{"X-Redmine-Signature-256": HMACHex("s3cret", body)}, false},
		{"bad signature overrides good token", "/hooks/redmine?token=s3cret", map[string]string{"X-Redmine-Signature-256": "sha256=00"}, false},
		{"wrong token", "/hooks/redmine?token=s3cre", nil, false},
		{"nothing", "/hooks/redmine", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", c.url, nil)
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			if got := redmineHookAuthentic(r, body, "s3cret"); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// A secret holding URL-reserved characters must be percent-encoded in the
// plugin's target URL (README, "Redmine webhooks"); pasted raw, "+" arrives as
// a space and the nudge is refused. The stack's secrets are hex, so neither case
// arises there.
func TestRedmineHookTokenNeedsPercentEncoding(t *testing.T) {
	const secret = "a+b/c=d"
	cases := []struct {
		name string
		url  string
		want bool
	}{
		{"percent-encoded", "/hooks/redmine?token=" + url.QueryEscape(secret), true},
		{"pasted raw", "/hooks/redmine?token=" + secret, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", c.url, nil)
			if got := redmineHookAuthentic(r, nil, secret); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestConvertersToRedmine(t *testing.T) {
	req := espaceclient.Request{Reference: "D-2026-000042", AuthorName: "Jeanne Dupont", AuthorEmail: "jeanne@example.test",
		AuthorRole: config.RoleTenant, Subject: "Fuite\nsous l'évier " + strings.Repeat("x", 300), Lot: "LOT-12", Location: "Cuisine", Payer: "syndic", Urgency: "high"}
	first := espaceclient.Message{Body: "<script>alert(1)</script> Merci", Attachments: []espaceclient.Attachment{{}, {}}}
	cat := config.Category{Label: "Réparation ou travaux"}
	subj := IssueSubject(req)
	if !strings.HasPrefix(subj, "[D-2026-000042] Fuite sous l'évier") || len([]rune(subj)) > 255 || strings.Contains(subj, "\n") {
		t.Errorf("subject = %q", subj)
	}
	prevIssue := redmine.IssueID(77)
	desc := IssueDescription(req, first, cat, "ticket mandat introuvable", &espaceclient.Request{Reference: "D-2026-000007", RedmineIssueID: &prevIssue})
	for _, want := range []string{"À traiter par l'équipe : ticket mandat introuvable", "par un locataire", "Nom : Jeanne Dupont\nE-mail : jeanne@example.test", "Lot : LOT-12", "Emplacement exact : Cuisine", "Qui paie : Le syndic de copropriété", "Urgence : Élevée", "<script>alert(1)</script> Merci", "2 pièce(s) jointe(s)", "Suite de la demande D-2026-000007 (#77)"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
	msg := espaceclient.Message{ID: "0b7c7d1e-0000-4000-8000-000000000001", AuthorName: "Jeanne Dupont", Body: "Suite"}
	note := ClientNote(req, msg)
	issue := redmine.Issue{Journals: []redmine.Journal{{ID: 5, User: redmine.IDName{ID: 99}, Notes: note}, {ID: 6, User: redmine.IDName{ID: 7}, Notes: note}}}
	if got := findMarkedJournal(issue, 7, msg.ID); got != 6 {
		t.Errorf("findMarkedJournal = %d, want the sync user's journal 6", got)
	}
	if got := findMarkedJournal(issue, 7, "0b7c7d1e-0000-4000-8000-000000000002"); got != 0 {
		t.Errorf("another message's marker matched journal %d", got)
	}
	if ack := AckBody(config.Category{Label: "Changement de RIB", Redmine: config.RedmineRule{Parent: config.ParentMandate}}, 123); !strings.Contains(ack, "n° 123") || !strings.Contains(ack, "comptabilité") {
		t.Errorf("RIB ack = %q", ack)
	}
}
