package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The poller keeps running: with poll_interval 2s, a public staff note
// reaches the client within a poll and a few seconds, and so do a second note
// and a status change made 20 s later. A private note never shows.
// (Issue 8, item 1: River's default unique states include completed, so the
// first completed poll blocked every later one.)
func TestE2EPollKeepsRunning(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	in := d.writeConfig("serve", nil)
	d.migrate(in)
	srv := d.serve(in)
	rm := newStaff(t, d.st)
	feedback := stackSetting(t, d.st, "statuses.map.Feedback")
	if feedback != "waiting_client" {
		t.Fatalf("the stack maps Feedback to %q, this test expects waiting_client", feedback)
	}

	tenant := newTenant(t)
	req := tenant.create(srv.in.baseURL, "Volet roulant bloqué", "Le volet de la chambre ne descend plus.")
	issue := tenant.waitIssue(srv.in.baseURL, req.ID, 60*time.Second)
	t.Logf("request %s is issue #%d", req.Reference, issue)

	tag := d.prefix
	note1 := fmt.Sprintf("Bonjour, un technicien passe jeudi matin. (%s note 1)", tag)
	private := fmt.Sprintf("Interne : devis à 480 €, marge 20 %%. (%s note privée)", tag)
	note2 := fmt.Sprintf("Pouvez-vous confirmer votre présence jeudi ? (%s note 2)", tag)

	rm.addNote(issue, note1, false)
	first := time.Now()
	waitUntil(t, syncBound, "the first public staff note reaches the client", func() (bool, string) {
		r := tenant.get(srv.in.baseURL, req.ID)
		return r.countBodies(note1) > 0, threadSummary(r)
	})
	t.Logf("note 1 seen by the client after %s", time.Since(first).Round(100*time.Millisecond))

	rm.addNote(issue, private, true)

	// Twenty seconds after the first note: ten polls later.
	time.Sleep(time.Until(first.Add(20 * time.Second)))
	rm.addNote(issue, note2, false)
	rm.setStatus(issue, d.st.statusFeedbackID)
	second := time.Now()
	waitUntil(t, syncBound, "the second note and the Feedback status (waiting_client) reach the client", func() (bool, string) {
		r := tenant.get(srv.in.baseURL, req.ID)
		return r.countBodies(note2) > 0 && r.Status == "waiting_client", threadSummary(r)
	})
	t.Logf("note 2 and status seen by the client after %s", time.Since(second).Round(100*time.Millisecond))

	// Two more polls, then count.
	time.Sleep(2 * pollInterval)
	r := tenant.get(srv.in.baseURL, req.ID)
	staffMsgs := r.staffMessages()
	if len(staffMsgs) != 2 || r.countBodies(note1) != 1 || r.countBodies(note2) != 1 {
		t.Errorf("staff messages: got %d (note 1 ×%d, note 2 ×%d), want 2 (each once)\n%s",
			len(staffMsgs), r.countBodies(note1), r.countBodies(note2), threadSummary(r))
	}
	if n := r.countBodies("note privée") + r.countBodies("marge 20 %"); n != 0 {
		t.Errorf("the private note reached the client (%d times)\n%s", n, threadSummary(r))
	}
	if r.Status != "waiting_client" {
		t.Errorf("client status %q, want waiting_client", r.Status)
	}
	if is := rm.issue(issue); is.Status.ID != d.st.statusFeedbackID {
		t.Errorf("Redmine status %q, want Feedback", is.Status.Name)
	}
}

// threadSummary writes a request's status and thread on a few lines, for
// failure messages.
func threadSummary(r apiRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s status=%s issue=%v", r.Reference, r.Status, deref(r.RedmineIssueID))
	for i, m := range r.Messages {
		body := strings.ReplaceAll(m.Body, "\n", " ")
		if len([]rune(body)) > 90 {
			body = string([]rune(body)[:90]) + "…"
		}
		fmt.Fprintf(&b, "\n  [%d] %s/%s %q", i, m.AuthorKind, m.Kind, body)
	}
	return b.String()
}

// deref prints an optional issue number.
func deref(p *int) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}
