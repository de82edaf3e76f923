package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The mail server is stopped while response deadlines fall due: the
// watcher still escalates in Redmine (its private note), and once the mail
// server is back every warning and escalation mail goes out, once each,
// and no later watcher run sends one again. (Issue 9, scenario 6.) The
// client's own mails about the same requests (received, transmitted: issue
// 13) wait the same way and go out once each.
//
// Which alerts there are depends on when the watcher (every minute) first
// sees a deadline: seen between 75 % and 100 % of the delay it claims a
// warning, then the escalation; first seen past the due time it claims only
// the escalation and logs "warning skipped" (a warning after the fact helps
// nobody). So the oracle is serve's own log: one warning mail per "warning
// claimed" line of that reference, none otherwise, and always one escalation.
//
// Not parallel: it stops the stack's SMTP catcher.
func TestMailsOfDeadlinesFiredDuringSMTPOutageGoOutOnceWhenBack(t *testing.T) {
	const requests = 3
	d := newDeployment(t)
	in := d.writeConfig("smtp", map[string]string{
		// Retries of a failed mail at most 10 s apart, so the mail leaves soon
		// after the server is back (production: 5 min).
		"redmine.max_retry_delay": "10s",
	})
	// Two minutes to answer, on a 24/7 clock: the warning falls due after
	// 90 s (75 %), the escalation after 120 s. The watcher runs at serve's
	// start and every minute after; the requests are filed 20 s after the
	// start, so the run near 100 s usually claims the warnings and the run
	// near 160 s the escalations (the oracle below holds either way).
	d.patchConfig(in, "deadlines.policies", `[{category: autre, first_answer: {within: 2m, clock: calendar}}]`)
	d.migrate(in)
	srv := d.serve(in)
	rm := newStaff(t, d.st)
	tn := newTenant(t)

	stopComponent(t, "smtp")
	outageStart := time.Now()
	time.Sleep(20 * time.Second) // see the policy above

	type filed struct {
		ref   string
		id    string
		issue int
	}
	var all []filed
	for i := 0; i < requests; i++ {
		r := tn.create(srv.in.baseURL, fmt.Sprintf("Interphone %d", i), "L'interphone ne sonne plus chez moi depuis lundi.")
		all = append(all, filed{ref: r.Reference, id: r.ID})
	}
	for i := range all {
		all[i].issue = tn.waitIssue(srv.in.baseURL, all[i].id, syncBound)
	}

	// The deadlines fire while the mail server is down: the escalation's
	// private note reaches Redmine (the mail step failing does not hold it
	// back), and no mail can have been caught.
	waitUntil(t, 4*time.Minute, "every issue carries the escalation's private note", func() (bool, string) {
		var missing []string
		for _, f := range all {
			is := rm.issue(f.issue)
			notes := is.notesContaining("Réf. alerte Passerelle")
			if len(notes) != 1 || !notes[0].PrivateNotes {
				missing = append(missing, fmt.Sprintf("#%d: %d escalation note(s)", f.issue, len(notes)))
			}
		}
		return len(missing) == 0, strings.Join(missing, ", ")
	})
	for _, f := range all {
		if got := mailsAbout(t, f.ref); len(got) != 0 {
			t.Fatalf("%s: mail caught while the mail server was stopped: %s", f.ref, describeMails(got))
		}
	}
	if got := clientMails(t, tn.email); len(got) != 0 {
		t.Fatalf("client mail caught while the mail server was stopped: %s", describeClientMails(got))
	}
	t.Logf("deadlines fired during the outage; mail server down for %s", time.Since(outageStart).Round(time.Second))

	startStack(t)
	back := time.Now()
	// Warnings claimed per reference, from serve's log.
	claimedWarnings := func(ref string) int {
		n := 0
		for _, line := range strings.Split(srv.logTail(1<<30), "\n") {
			if strings.Contains(line, `"msg":"deadline near: warning claimed"`) && strings.Contains(line, `"reference":"`+ref+`"`) {
				n++
			}
		}
		return n
	}
	warnings := 0
	for _, f := range all {
		warnings += claimedWarnings(f.ref)
	}
	onceEach := func() (bool, string) {
		var problems []string
		for _, f := range all {
			got := mailsAbout(t, f.ref)
			w := claimedWarnings(f.ref)
			if w > 1 || len(got["warning"]) != w || len(got["escalation"]) != 1 || len(got) > 1+w {
				problems = append(problems, fmt.Sprintf("%s: %s (warnings claimed: %d)", f.ref, describeMails(got), w))
			}
		}
		return len(problems) == 0, strings.Join(problems, "\n  ")
	}
	waitUntil(t, 90*time.Second, "each claimed alert's mail, once, once the mail server is back", onceEach)
	clientOnce := map[string]int{"received": requests, "transmitted": requests}
	waitMails(t, tn.email, 90*time.Second, "the client's mails, once each, once the mail server is back", clientOnce)
	t.Logf("%d warnings and %d escalations delivered %s after the mail server came back",
		warnings, requests, time.Since(back).Round(time.Second))

	// A later watcher run (every minute) sends nothing again.
	time.Sleep(65 * time.Second)
	if ok, state := onceEach(); !ok {
		t.Errorf("a minute later, mails are not once each:\n  %s", state)
	}
	waitMails(t, tn.email, time.Second, "the client's mails, still once each a minute later", clientOnce)
	for _, f := range all {
		if n := len(rm.issue(f.issue).notesContaining("Réf. alerte Passerelle")); n != 1 {
			t.Errorf("%s: #%d has %d escalation notes, want 1", f.ref, f.issue, n)
		}
	}
}
