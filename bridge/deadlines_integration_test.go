package bridge_test

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/deadlines"
	"passerelle/deadlines/sla"
	"passerelle/internal/testenv"
	"passerelle/redmine"
)

// testClock is the bridge's injected clock: tests move it, never sleep.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// stackMail is one message the stack's SMTP catcher stored.
type stackMail struct {
	file    string
	header  mail.Header
	subject string
}

// mailsAbout returns the messages in the stack's Maildir whose
// X-Passerelle-Reference is ref, with that alert kind.
func mailsAbout(t *testing.T, maildir, ref, kind string) []stackMail {
	t.Helper()
	var out []stackMail
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(maildir, sub))
		for _, e := range entries {
			f, err := os.Open(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				continue
			}
			m, err := mail.ReadMessage(f)
			if err == nil && m.Header.Get("X-Passerelle-Reference") == ref && m.Header.Get("X-Passerelle-Alert") == kind {
				subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
				out = append(out, stackMail{file: e.Name(), header: m.Header, subject: subj})
			}
			f.Close()
		}
	}
	return out
}

type alertState struct {
	state, mail, note string
	journal           *redmine.JournalID
	mailTo            []string
}

func (h *harness) alert(requestID, deadlineID string, kind deadlines.AlertKind) (alertState, bool) {
	var a alertState
	err := h.store.Pool().QueryRow(context.Background(), `
		SELECT state, mail_state, note_state, note_journal_id, mail_to FROM deadline_alerts
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, requestID, deadlineID, string(kind)).
		Scan(&a.state, &a.mail, &a.note, &a.journal, &a.mailTo)
	return a, err == nil
}

func (h *harness) countAlerts(requestID string) int {
	var n int
	if err := h.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM deadline_alerts WHERE request_id = $1`, requestID).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) watch(w *deadlines.Watcher) deadlines.WatchStats {
	h.t.Helper()
	st, err := w.RunOnce(context.Background())
	if err != nil {
		h.t.Fatalf("watcher: %v", err)
	}
	return st
}

func escalationJournals(is redmine.Issue, deadlineID string) []redmine.Journal {
	var out []redmine.Journal
	for _, j := range is.Journals {
		if strings.Contains(j.Notes, deadlines.EscalationMarker(deadlineID)) {
			out = append(out, j)
		}
	}
	return out
}

// The whole life of a deadline against the real Redmine, PostgreSQL and SMTP
// server, the clock moved by hand: the due time reaches the client and the
// issue; past 75 % one warning e-mail; past 100 % one escalation e-mail,
// one private note and a priority raise; running the watcher again (also two
// runs at once, as two replicas would) and retrying a crashed alert change
// nothing; a public staff note stops the clock for good.
func TestDeadlineWarnedOnceEscalatedOnceThenStoppedByStaffAnswer(t *testing.T) {
	maildir := testenv.Get(t, "MAILDIR")
	group := envInt(t, "REDMINE_GROUP_GESTIONNAIRES_ID")
	staffBox := fmt.Sprintf("gestionnaires-%d@agence.test", time.Now().UnixNano())
	h := newHarness(t, harnessOpts{noStart: true, mutateConfig: func(c *config.Config) {
		c.Deadlines.Recipients = []config.AlertRecipient{{Group: group, Name: "Gestionnaires", Emails: []string{staffBox}}}
		c.Deadlines.Escalation.RaisePriorityTo = "High"
		c.Deadlines.Escalation.Cc = []string{"direction@agence.test"}
	}})
	clock := &testClock{t: time.Now()}
	h.bridge.SetNow(clock.Now)
	h.start()
	ctx := context.Background()
	cfg := h.app.Config()
	dueCF := cfg.Redmine.CustomFields.ResponseDue
	if dueCF == 0 {
		t.Fatal("the stack's config must set redmine.custom_fields.response_due")
	}

	lot := uniqueName("LOT")
	tenant := h.newClient(config.RoleTenant, []string{lot}, nil)
	r := tenant.create(map[string]string{
		"category": "travaux", "subject": "Chauffe-eau en panne", "body": "Plus d'eau chaude depuis hier soir.",
		"location": "Salle de bains", "payer": "owner", "urgency": "normal", "lot": lot,
	})
	issueID := h.waitMirrored(tenant, r.ID)

	// The deadlines, as computed from the stored history.
	hist, err := h.store.RequestHistory(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := deadlines.ComputeRequestDeadlines(cfg, hist)
	if err != nil {
		t.Fatal(err)
	}
	answer, ok := rd.NextAnswer()
	if !ok {
		t.Fatalf("no first-answer deadline: %+v", rd.Deadlines)
	}
	var action sla.Deadline
	for _, d := range rd.Deadlines {
		if d.Target == sla.Action {
			action = d
		}
	}
	if action.ID == "" || !action.Due.After(answer.Due) {
		t.Fatalf("want a 10-day action deadline after the answer's: %+v", rd.Deadlines)
	}

	// Clients see the due time; staff see it in "Échéance réponse", written
	// with the issue's creation.
	var api struct {
		DueAt *time.Time `json:"due_at"`
	}
	tenant.call("GET", "/api/v1/requests/"+r.ID, nil, nil, &api)
	if api.DueAt == nil || !api.DueAt.Equal(answer.Due) {
		t.Fatalf("API due_at = %v, want %s", api.DueAt, answer.Due)
	}
	issue, err := h.admin.GetIssue(ctx, issueID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := issue.CustomField(dueCF), deadlines.FormatDueForStaff(answer.Due, cfg); got != want {
		t.Fatalf("Échéance réponse = %q, want %q", got, want)
	}
	priorityBefore := issue.Priority.Name

	w := h.bridge.Deadlines().NewWatcher(deadlines.WatcherConfig{})

	// Just before 75 %: nothing.
	clock.Set(answer.WarnAt.Add(-time.Minute))
	if st := h.watch(w); st.Warnings+st.Escalated != 0 {
		t.Fatalf("before the warning time: %+v", st)
	}
	if n := h.countAlerts(r.ID); n != 0 {
		t.Fatalf("%d alerts claimed before the warning time", n)
	}

	// Past 75 %: two runs at once, as two replicas would: one warning.
	clock.Set(answer.WarnAt.Add(time.Second))
	var wg sync.WaitGroup
	stats := make([]deadlines.WatchStats, 2)
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w2 := h.bridge.Deadlines().NewWatcher(deadlines.WatcherConfig{})
			st, err := w2.RunOnce(ctx)
			if err != nil {
				t.Errorf("watcher %d: %v", i, err)
			}
			stats[i] = st
		}()
	}
	wg.Wait()
	if n := stats[0].Warnings + stats[1].Warnings; n != 1 {
		t.Fatalf("two concurrent runs claimed %d warnings, want 1: %+v", n, stats)
	}
	h.waitFor("warning sent", 60*time.Second, func() bool {
		a, ok := h.alert(r.ID, answer.ID, deadlines.AlertWarning)
		return ok && a.state == "done"
	})
	if st := h.watch(w); st.Warnings+st.Escalated != 0 {
		t.Fatalf("a second run claimed again: %+v", st)
	}
	warnings := mailsAbout(t, maildir, r.Reference, "warning")
	if len(warnings) != 1 {
		t.Fatalf("%d warning e-mails, want 1", len(warnings))
	}
	if to := warnings[0].header.Get("To"); !strings.Contains(to, staffBox) {
		t.Errorf("warning To = %q, want the group's address %s", to, staffBox)
	}
	if !strings.Contains(warnings[0].subject, "Échéance proche") || warnings[0].header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("warning subject %q, headers %v", warnings[0].subject, warnings[0].header)
	}

	// Past 100 %: one escalation e-mail, one private note, the priority raised.
	clock.Set(answer.Due.Add(time.Minute))
	if st := h.watch(w); st.Escalated != 1 || st.Warnings != 0 {
		t.Fatalf("at the due time: %+v, want one escalation", st)
	}
	var esc alertState
	h.waitFor("escalation carried out", 60*time.Second, func() bool {
		a, ok := h.alert(r.ID, answer.ID, deadlines.AlertEscalation)
		esc = a
		return ok && a.state == "done"
	})
	if esc.note == "refused" {
		t.Fatal("no escalation note: the sync user's role lacks the permission set_notes_private (scripts/redmine-provision.rb)")
	}
	if esc.mail != "sent" || esc.note != "written" || esc.journal == nil {
		t.Fatalf("escalation = %+v, want mail sent and note written", esc)
	}
	escalations := mailsAbout(t, maildir, r.Reference, "escalation")
	if len(escalations) != 1 {
		t.Fatalf("%d escalation e-mails, want 1", len(escalations))
	}
	if m := escalations[0]; !strings.Contains(m.header.Get("To"), staffBox) || !strings.Contains(m.header.Get("Cc"), "direction@agence.test") ||
		!strings.Contains(m.subject, "EN RETARD") {
		t.Errorf("escalation e-mail: To %q, Cc %q, subject %q", m.header.Get("To"), m.header.Get("Cc"), m.subject)
	}
	issue, err = h.admin.GetIssue(ctx, issueID, "journals")
	if err != nil {
		t.Fatal(err)
	}
	notes := escalationJournals(issue, answer.ID)
	if len(notes) != 1 {
		t.Fatalf("%d escalation notes in Redmine, want 1", len(notes))
	}
	note := notes[0]
	if !note.PrivateNotes || note.ID != *esc.journal || note.User.ID != mustDirectory(t, h.rm, h.cfg).Me.ID {
		t.Errorf("note %d private=%v by %v, want private, journal %d, by the sync user", note.ID, note.PrivateNotes, note.User, *esc.journal)
	}
	for _, want := range []string{"Échéance dépassée : la première réponse au client", r.Reference,
		"En retard depuis le " + rd.Calendar.FormatDue(answer.Due)} {
		if !strings.Contains(note.Notes, want) {
			t.Errorf("note lacks %q:\n%s", want, note.Notes)
		}
	}
	if issue.Priority.Name != "High" {
		t.Errorf("priority = %q (was %q), want High", issue.Priority.Name, priorityBefore)
	}
	// The sync user's private note never reaches the client.
	for _, m := range tenant.get(r.ID).Messages {
		if strings.Contains(m.Body, "Échéance dépassée") {
			t.Fatalf("the escalation note reached the client: %q", m.Body)
		}
	}

	// Again, later: nothing more.
	clock.Set(answer.Due.Add(2 * time.Hour))
	for i := 0; i < 2; i++ {
		if st := h.watch(w); st.Warnings+st.Escalated != 0 {
			t.Fatalf("run %d after the escalation: %+v", i, st)
		}
	}
	// A crashed attempt retried (the note written, the process dead before
	// recording it): the marker is found, no second note, no second e-mail.
	if _, err := h.store.Pool().Exec(ctx, `UPDATE deadline_alerts SET state = 'pending', note_state = 'pending', note_journal_id = NULL
		WHERE request_id = $1 AND deadline_id = $2 AND kind = 'escalation'`, r.ID, answer.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.Deadlines().RunAlert(ctx, deadlines.AlertArgs{RequestID: r.ID, DeadlineID: answer.ID, Alert: deadlines.AlertEscalation}); err != nil {
		t.Fatalf("retried alert: %v", err)
	}
	if a, _ := h.alert(r.ID, answer.ID, deadlines.AlertEscalation); a.state != "done" || a.journal == nil || *a.journal != note.ID {
		t.Errorf("retried alert = %+v, want done with journal %d", a, note.ID)
	}
	issue, _ = h.admin.GetIssue(ctx, issueID, "journals")
	if n := len(escalationJournals(issue, answer.ID)); n != 1 {
		t.Fatalf("%d escalation notes after the retry, want 1", n)
	}
	if n := len(mailsAbout(t, maildir, r.Reference, "escalation")); n != 1 {
		t.Fatalf("%d escalation e-mails after the retry, want 1", n)
	}

	// A public staff note answers the client: both deadlines are met, the due
	// time is gone for the client and in Redmine, and no alert ever follows.
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Bonjour, le plombier passe demain matin."}); err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.RefreshIssue(ctx, issueID); err != nil {
		t.Fatal(err)
	}
	tenant.call("GET", "/api/v1/requests/"+r.ID, nil, nil, &api)
	if api.DueAt != nil {
		t.Errorf("due_at = %v after the staff answer, want null", api.DueAt)
	}
	issue, _ = h.admin.GetIssue(ctx, issueID, "journals")
	if got := issue.CustomField(dueCF); got != "" {
		t.Errorf("Échéance réponse = %q after the answer, want empty", got)
	}
	alerts := h.countAlerts(r.ID)
	journals := len(issue.Journals)
	for _, at := range []time.Time{action.WarnAt.Add(time.Minute), action.Due.Add(time.Hour), action.Due.AddDate(0, 1, 0)} {
		clock.Set(at)
		if st := h.watch(w); st.Warnings+st.Escalated != 0 {
			t.Fatalf("at %s, after the staff answer: %+v", at, st)
		}
	}
	if n := h.countAlerts(r.ID); n != alerts {
		t.Errorf("alerts went from %d to %d after the staff answer", alerts, n)
	}
	issue, _ = h.admin.GetIssue(ctx, issueID, "journals")
	if len(issue.Journals) != journals {
		t.Errorf("journals went from %d to %d after the staff answer", journals, len(issue.Journals))
	}
	if n := len(mailsAbout(t, maildir, r.Reference, "warning")) + len(mailsAbout(t, maildir, r.Reference, "escalation")); n != 2 {
		t.Errorf("%d alert e-mails in all, want 2", n)
	}
	hist, _ = h.store.RequestHistory(ctx, r.ID)
	rd, _ = deadlines.ComputeRequestDeadlines(cfg, hist)
	for _, d := range rd.Deadlines {
		if d.Target != sla.Resolution && d.State != sla.Met {
			t.Errorf("%s is %s after the staff answer, want met", d.ID, d.State)
		}
	}
}

// A client follow-up after the staff answer starts a new answer deadline:
// due_at and "Échéance réponse" move once the follow-up is mirrored.
func TestClientFollowUpMovesTheDueTime(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	cfg := h.app.Config()
	tenant, r, issueID := h.mirrored("autre")
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Bonjour, pouvez-vous préciser ?"}); err != nil {
		t.Fatal(err)
	}
	// As a webhook nudge would (the poller's path is tested elsewhere).
	if err := h.bridge.RefreshIssue(ctx, issueID); err != nil {
		t.Fatal(err)
	}
	var api struct {
		DueAt *time.Time `json:"due_at"`
	}
	tenant.call("GET", "/api/v1/requests/"+r.ID, nil, nil, &api)
	if api.DueAt != nil {
		t.Fatalf("due_at = %v once answered, want null", api.DueAt)
	}
	var msg struct{ ID string }
	tenant.call("POST", "/api/v1/requests/"+r.ID+"/messages", map[string]string{"body": "Oui : c'est la fenêtre de la cuisine."}, nil, &msg)
	h.waitFor("follow-up mirrored and due time set", 60*time.Second, func() bool {
		tenant.call("GET", "/api/v1/requests/"+r.ID, nil, nil, &api)
		return api.DueAt != nil
	})
	m, err := h.store.GetMessage(ctx, msg.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := h.store.RequestHistory(ctx, r.ID)
	rd, _ := deadlines.ComputeRequestDeadlines(cfg, hist)
	d, ok := rd.NextAnswer()
	if !ok || d.ID != "first_answer@msg:"+m.ID || !api.DueAt.Equal(d.Due) {
		t.Fatalf("next answer %+v, due_at %v: want the follow-up's deadline", d, api.DueAt)
	}
	// The field is written once the computation is committed (AfterEvent),
	// so just after the client can see the due time.
	want := deadlines.FormatDueForStaff(d.Due, cfg)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		issue, _ := h.admin.GetIssue(ctx, issueID)
		got := issue.CustomField(cfg.Redmine.CustomFields.ResponseDue)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Échéance réponse = %q 30 s after the due time moved, want %q", got, want)
		}
	}
}

// A mail server that is down delays the escalation e-mail, never loses it
// nor sends it twice: the job retries with backoff and sends it once the
// server is back (here: the configuration pointed at it again).
func TestEscalationMailWaitsForTheMailServer(t *testing.T) {
	env := testenv.Env(t, "SMTP_ADDR", "MAILDIR")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close() // nothing listens there any more
	box := fmt.Sprintf("gestionnaires-%d@agence.test", time.Now().UnixNano())
	no := false
	h := newHarness(t, harnessOpts{noStart: true, mutateConfig: func(c *config.Config) {
		c.SMTP.Addr = down
		c.Deadlines.Recipients = nil // every alert goes to the default box
		c.Deadlines.DefaultRecipients = []string{box}
		c.Deadlines.Escalation.PrivateNote = &no
	}})
	clock := &testClock{t: time.Now()}
	h.bridge.SetNow(clock.Now)
	h.start()
	ctx := context.Background()
	_, r, _ := h.mirrored("autre")
	hist, _ := h.store.RequestHistory(ctx, r.ID)
	rd, _ := deadlines.ComputeRequestDeadlines(h.app.Config(), hist)
	answer, ok := rd.NextAnswer()
	if !ok {
		t.Fatal("no answer deadline")
	}
	clock.Set(answer.Due.Add(time.Minute))
	if st := h.watch(h.bridge.Deadlines().NewWatcher(deadlines.WatcherConfig{})); st.Escalated != 1 {
		t.Fatalf("watch: %+v", st)
	}
	var attempts int
	var lastError string
	h.waitFor("two failed attempts", 60*time.Second, func() bool {
		_ = h.store.Pool().QueryRow(ctx, `SELECT attempts, last_error FROM deadline_alerts WHERE request_id = $1 AND kind = 'escalation'`, r.ID).
			Scan(&attempts, &lastError)
		return attempts >= 2
	})
	if a, _ := h.alert(r.ID, answer.ID, deadlines.AlertEscalation); a.state != "pending" || a.mail != "pending" || lastError == "" {
		t.Fatalf("while the server is down: %+v, last error %q", a, lastError)
	}
	if n := len(mailsAbout(t, env[1], r.Reference, "escalation")); n != 0 {
		t.Fatalf("%d e-mails while the server is down", n)
	}

	up := *h.app.Config()
	up.SMTP.Addr = env[0]
	h.reload(&up)
	h.waitFor("escalation sent once the server is back", 60*time.Second, func() bool {
		a, _ := h.alert(r.ID, answer.ID, deadlines.AlertEscalation)
		return a.state == "done"
	})
	a, _ := h.alert(r.ID, answer.ID, deadlines.AlertEscalation)
	if a.mail != "sent" || a.note != "none" || len(a.mailTo) != 1 || a.mailTo[0] != box {
		t.Errorf("alert = %+v", a)
	}
	if n := len(mailsAbout(t, env[1], r.Reference, "escalation")); n != 1 {
		t.Errorf("%d escalation e-mails, want 1", n)
	}
}

// The watcher computes a request's deadlines again exactly when its history
// moved or its rules changed, and finds them by index (migration 00070): in
// the steady state it finds nothing; a message stored without moving the
// request's updated_at (a Redmine journal in the same second keeps the
// greatest instant written) is found by the message count; a change of the
// deadline rules finds the open request, not the closed one.
func TestWatcherRecomputesExactlyWhatChanged(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	ctx := context.Background()
	w := h.bridge.Deadlines().NewWatcher(deadlines.WatcherConfig{})
	lot := uniqueName("LOT")
	tenant := h.newClient(config.RoleTenant, []string{lot}, nil)
	open := tenant.create(map[string]string{"category": "autre", "subject": "Question", "body": "Une question.", "lot": lot})
	closed := tenant.create(map[string]string{"category": "autre", "subject": "Réglé", "body": "Plus rien.", "lot": lot})
	if code := tenant.call("POST", "/api/v1/requests/"+closed.ID+"/close", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("close: HTTP %d", code)
	}
	h.watch(w) // whatever the creations and the close left to compute
	if st := h.watch(w); st.Recomputed != 0 {
		t.Fatalf("steady state: %d requests computed again, want 0", st.Recomputed)
	}

	if _, err := h.store.Pool().Exec(ctx, `INSERT INTO messages (request_id, author_kind, kind, author_name, body, source)
		VALUES ($1, 'staff', 'message', 'Agence', 'Bonjour, nous regardons.', 'redmine')`, open.ID); err != nil {
		t.Fatal(err)
	}
	if st := h.watch(w); st.Recomputed != 1 {
		t.Fatalf("after a message that left updated_at as it was: %d computed again, want 1", st.Recomputed)
	}
	if st := h.watch(w); st.Recomputed != 0 {
		t.Fatalf("after that computation: %d computed again, want 0", st.Recomputed)
	}

	next := *h.app.Config()
	next.Deadlines.WarnAt = "50%"
	h.reload(&next)
	if st := h.watch(w); st.Recomputed != 1 {
		t.Fatalf("after a change of the rules: %d computed again, want 1 (the open request, not the closed one)", st.Recomputed)
	}
	if st := h.watch(w); st.Recomputed != 0 {
		t.Fatalf("once computed with the new rules: %d computed again, want 0", st.Recomputed)
	}
}
