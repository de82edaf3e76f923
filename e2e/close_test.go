package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A client writes a last message and closes the request at once, ten times:
// each time, once things settle, the Redmine issue is in the closed status
// the config names, the client's request is closed, and Redmine shows the
// message note before the closing note. (Issue 8, item 4: the follow-up job
// could run after the close and reopen the issue, and the next poll then
// reopened the client's request.)
func TestE2EMessageThenClose(t *testing.T) {
	t.Parallel()
	const runs = 10
	d := newDeployment(t)
	in := d.writeConfig("serve", nil)
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)
	closedStatus := stackSetting(t, d.st, "redmine.client_closed_status")
	tenant := newTenant(t)

	type run struct {
		req   apiRequest
		issue int
		text  string
	}
	all := make([]run, runs)
	for i := range all {
		all[i].req = tenant.create(base, fmt.Sprintf("Fuite sous l'évier %d", i), "L'eau coule sous l'évier de la cuisine.")
	}
	for i := range all {
		all[i].issue = tenant.waitIssue(base, all[i].req.ID, 90*time.Second)
	}
	// Back to back, as a client clicks "send" then "close".
	for i := range all {
		all[i].text = fmt.Sprintf("Merci, c'est réparé (essai %d, %s).", i, d.prefix)
		tenant.followUp(base, all[i].req.ID, all[i].text)
		tenant.closeRequest(base, all[i].req.ID)
	}

	// Settled: both notes are in Redmine, then a few polls pass.
	settled := eventually(90*time.Second, func() (bool, string) {
		for _, r := range all {
			is := rm.issue(r.issue)
			if len(is.notesContaining(r.text)) == 0 || len(closingNotes(is, d.st.syncUserID, r.text)) == 0 {
				return false, ""
			}
		}
		return true, ""
	})
	if !settled {
		t.Errorf("after 90 s, not every message and closing note is in Redmine")
	}
	time.Sleep(3 * pollInterval)

	bad := 0
	for i, r := range all {
		is := rm.issue(r.issue)
		got := tenant.get(base, r.req.ID)
		msgNotes := is.notesContaining(r.text)
		closeNotes := closingNotes(is, d.st.syncUserID, r.text)
		var problems []string
		if is.Status.Name != closedStatus {
			problems = append(problems, fmt.Sprintf("Redmine status %q, want %q", is.Status.Name, closedStatus))
		}
		if got.Status != "closed" {
			problems = append(problems, fmt.Sprintf("client status %q, want closed", got.Status))
		}
		if len(msgNotes) != 1 || len(closeNotes) != 1 {
			problems = append(problems, fmt.Sprintf("%d message note(s) and %d closing note(s), want 1 and 1", len(msgNotes), len(closeNotes)))
		} else if msgNotes[0].ID > closeNotes[0].ID {
			problems = append(problems, fmt.Sprintf("closing note (journal %d) before the message note (journal %d)", closeNotes[0].ID, msgNotes[0].ID))
		}
		if len(problems) > 0 {
			bad++
			t.Errorf("run %d, %s, issue #%d: %s\n%s", i, r.req.Reference, r.issue, strings.Join(problems, "; "), threadSummary(got))
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d runs did not end closed, in the client's order", bad, runs)
	}
}

// closingNotes returns the sync user's journals that record a client's
// closing: their note speaks of the closing ("clôtur…") and is not the
// message note.
func closingNotes(is rmIssue, syncUserID int, messageText string) []rmJournal {
	var out []rmJournal
	for _, j := range is.Journals {
		if j.User.ID == syncUserID && strings.Contains(strings.ToLower(j.Notes), "clôtur") && !strings.Contains(j.Notes, messageText) {
			out = append(out, j)
		}
	}
	return out
}
