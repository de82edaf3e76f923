package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// On a quiet system both directions work, each change once: photos reach the issue, staff's public note, status change and published file reach the client within a poll and 2 s, a private note never, the client's follow-up, close and reopen reach Redmine once with no echo.
func TestQuietSystemBothDirections(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	in := d.writeConfig("serve", nil)
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)
	tag := d.prefix
	closedStatus := stackSetting(t, d.st, "redmine.client_closed_status")
	reopenStatus := stackSetting(t, d.st, "redmine.reopen_status")
	if m := stackSetting(t, d.st, "statuses.map.Feedback"); m != "waiting_client" {
		t.Fatalf("the stack maps Feedback to %q, this test expects waiting_client", m)
	}
	if m := stackSetting(t, d.st, "statuses.map."+reopenStatus); m != "in_progress" {
		t.Fatalf("the stack maps %s to %q, this test expects in_progress", reopenStatus, m)
	}

	// 1. A request with two photos, as the browser form sends it.
	tenant := newTenant(t)
	photos := []clientFile{
		{name: "fuite-plafond.png", data: photoPNG(t, 64, 48)},
		{name: "tache-mur.jpg", data: photoJPEG(t, 64, 48)},
	}
	body := fmt.Sprintf("Une tache d'eau s'étend au plafond de la salle de bains (%s).", tag)
	req := tenant.createWithFiles(base, newRequestFields("Tache d'humidité au plafond", body), photos)
	issue := tenant.waitIssue(base, req.ID, 60*time.Second)
	t.Logf("request %s is issue #%d", req.Reference, issue)
	waitUntil(t, 30*time.Second, "the two photos are attached to the issue", func() (bool, string) {
		got := rm.issueAttachments(issue)
		return len(got) == len(photos), fmt.Sprintf("attachments %+v", got)
	})
	for _, a := range rm.issueAttachments(issue) {
		want := -1
		for i, p := range photos {
			if p.name == a.Filename {
				want = i
			}
		}
		if want < 0 || a.Filesize != int64(len(photos[want].data)) {
			t.Errorf("issue #%d: attachment %q (%d bytes) is not one of the client's photos", issue, a.Filename, a.Filesize)
		}
	}

	// 2. Staff work in Redmine; each change is timed from the staff write.
	public := fmt.Sprintf("Bonjour, le plombier passe demain à 9 h. (%s note publique)", tag)
	rm.addNote(issue, public, false)
	at := time.Now()
	took := waitSince(t, at, visibleBound, "the public staff note reaches the client", func() (bool, string) {
		r := tenant.get(base, req.ID)
		return r.countBodies(public) > 0, threadSummary(r)
	})
	t.Logf("public note seen by the client %s after the staff write", took)

	rm.setStatus(issue, d.st.statusFeedbackID)
	at = time.Now()
	took = waitSince(t, at, visibleBound, "the Feedback status reaches the client as waiting_client", func() (bool, string) {
		r := tenant.get(base, req.ID)
		return r.Status == "waiting_client", threadSummary(r)
	})
	t.Logf("status change seen by the client %s after the staff write", took)

	private := fmt.Sprintf("Interne : le syndic refuse de payer, ne pas le dire au locataire. (%s NOTE PRIVÉE)", tag)
	rm.addNote(issue, private, true)
	privateAt := time.Now()

	report := photoPNG(t, 32, 32)
	published := fmt.Sprintf("Voici la photo du rapport d'intervention. (%s pièce publique)", tag)
	rm.update(issue, map[string]any{
		"notes": published, "private_notes": false,
		"uploads": []any{rm.upload("rapport-intervention.png", "image/png", report)},
	})
	at = time.Now()
	var thread threadWithFiles
	took = waitSince(t, at, visibleBound, "the public note and its file reach the client", func() (bool, string) {
		thread = getThread(tenant, base, req.ID)
		return len(thread.filesOf(published)) == 1, thread.summary()
	})
	t.Logf("published file seen by the client %s after the staff write", took)
	f := thread.filesOf(published)[0]
	if status, data := tenant.download(base, f.URL); status != http.StatusOK || !bytes.Equal(data, report) {
		t.Errorf("download of %s: HTTP %d, %d bytes (want 200 and the %d bytes staff attached)", f.Filename, status, len(data), len(report))
	}

	// The private note: two poll cycles at least, and nothing.
	time.Sleep(time.Until(privateAt.Add(2*pollInterval + time.Second)))
	if r := tenant.get(base, req.ID); r.countBodies("NOTE PRIVÉE") != 0 || r.countBodies("syndic refuse") != 0 {
		t.Errorf("the private note reached the client\n%s", threadSummary(r))
	}

	// 3. The client answers: one note in Redmine, no echo in the thread.
	answer := fmt.Sprintf("Merci, je serai là demain matin. (%s réponse client)", tag)
	tenant.followUp(base, req.ID, answer)
	waitUntil(t, syncBound, "the follow-up is a note in Redmine", func() (bool, string) {
		n := len(rm.issue(issue).notesContaining(answer))
		return n > 0, fmt.Sprintf("%d notes", n)
	})
	time.Sleep(2*pollInterval + time.Second) // two polls: an echo would show now

	// 4. The client closes, then writes again: Redmine follows each time,
	// and the client's status stays what the client made it.
	tenant.closeRequest(base, req.ID)
	waitUntil(t, syncBound, "Redmine shows the issue "+closedStatus, func() (bool, string) {
		is := rm.issue(issue)
		return is.Status.Name == closedStatus, "Redmine status " + is.Status.Name
	})
	time.Sleep(2*pollInterval + time.Second)
	if r := tenant.get(base, req.ID); r.Status != "closed" {
		t.Errorf("after the close and two polls, client status %q, want closed\n%s", r.Status, threadSummary(r))
	}
	reopenText := fmt.Sprintf("Finalement la tache revient ce matin. (%s réouverture)", tag)
	tenant.followUp(base, req.ID, reopenText)
	if r := tenant.get(base, req.ID); r.Status != "in_progress" {
		t.Errorf("after writing on the closed request, client status %q, want in_progress", r.Status)
	}
	waitUntil(t, syncBound, "Redmine shows the issue "+reopenStatus+" with the client's message", func() (bool, string) {
		is := rm.issue(issue)
		return is.Status.Name == reopenStatus && len(is.notesContaining(reopenText)) > 0,
			fmt.Sprintf("Redmine status %s, %d notes", is.Status.Name, len(is.notesContaining(reopenText)))
	})
	time.Sleep(2*pollInterval + time.Second)

	// 5. The counts.
	var problems []string
	check := func(what string, got, want int) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: %d, want %d", what, got, want))
		}
	}
	list := tenant.list(base)
	check("requests of the client", len(list), 1)
	check("Redmine issues carrying "+req.Reference, len(rm.issuesOfReference(req.Reference)), 1)
	is := rm.issue(issue)
	r := tenant.get(base, req.ID)
	thread = getThread(tenant, base, req.ID)
	check("Redmine notes of the follow-up", len(is.notesContaining(answer)), 1)
	check("Redmine notes of the reopening message", len(is.notesContaining(reopenText)), 1)
	check("Redmine closing notes", len(closingNotes(is, d.st.syncUserID, answer)), 1)
	check("Redmine notes quoting the public staff note (an echo)", len(is.notesContaining(public)), 1)
	check("files on the issue (2 photos, 1 published)", len(rm.issueAttachments(issue)), 3)
	check("client messages with the follow-up", countKind(r, "client", answer), 1)
	check("client messages with the reopening message", countKind(r, "client", reopenText), 1)
	check("staff messages echoing the follow-up", countKind(r, "staff", answer), 0)
	check("staff messages echoing the reopening message", countKind(r, "staff", reopenText), 0)
	check("thread messages with the public note", r.countBodies(public), 1)
	check("thread messages with the published file's note", r.countBodies(published), 1)
	check("files of the published note", len(thread.filesOf(published)), 1)
	check("files of the first message (photos)", len(thread.filesOf(body)), 2)
	check("thread messages with the private note", r.countBodies("NOTE PRIVÉE"), 0)
	check("staff messages", len(r.staffMessages()), 2)
	mails := mailsAbout(t, req.Reference)
	check("alert mails about "+req.Reference, len(mails["warning"])+len(mails["escalation"]), 0)
	if r.Status != "in_progress" {
		problems = append(problems, fmt.Sprintf("client status %q, want in_progress", r.Status))
	}
	if is.Status.Name != reopenStatus {
		problems = append(problems, fmt.Sprintf("Redmine status %q, want %q", is.Status.Name, reopenStatus))
	}
	if len(problems) > 0 {
		t.Errorf("counts:\n  %s\n%s", strings.Join(problems, "\n  "), thread.summary())
	}
	t.Logf("counts: 1 request, 1 issue, photos 2 on the issue and %d in the thread, notes: follow-up 1, reopening 1, closing 1; "+
		"thread: %d messages (%d staff), private note 0, alert mails 0", len(thread.filesOf(body)), len(r.Messages), len(r.staffMessages()))
}

// countKind counts the thread's messages of one author kind whose body
// contains text.
func countKind(r apiRequest, kind, text string) int {
	n := 0
	for _, m := range r.Messages {
		if m.AuthorKind == kind && strings.Contains(m.Body, text) {
			n++
		}
	}
	return n
}
