package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A request filed while Redmine is unreachable, with a short retry budget
// (redmine.retry_budget; production default 72h): once the budget is spent,
// `passerelle check --live` exits non-zero and names the request and why;
// after the admin fixes Redmine's address, `passerelle resync` mirrors the
// request and its follow-up exactly once. (Issue 8, item 6: a discarded job
// left no trace and its follow-ups snoozed for ever.)
func TestE2ERetryBudgetRecorded(t *testing.T) {
	t.Parallel()
	const budget = 15 * time.Second
	d := newDeployment(t)
	// The same installation twice: Redmine at a closed port, then fixed.
	down := d.writeConfig("redmine-down", map[string]string{
		"redmine.url":          "http://127.0.0.1:" + freePort(t),
		"redmine.retry_budget": budget.String(),
	})
	up := d.writeConfig("redmine-up", map[string]string{"redmine.retry_budget": budget.String()})
	d.migrate(down)
	srv := d.serve(down)
	rm := newStaff(t, d.st)

	tenant := newTenant(t)
	req := tenant.create(srv.in.baseURL, "Digicode hors service", "Le digicode du hall B ne répond plus.")
	filed := time.Now()
	ref := req.Reference
	followUp := fmt.Sprintf("Le digicode du hall A aussi, depuis ce matin. (%s)", d.prefix)
	tenant.followUp(srv.in.baseURL, req.ID, followUp)

	// Once the budget is spent, check --live names the request and why.
	var line, out string
	var code int
	deadline := time.Now().Add(budget + 90*time.Second)
	for {
		code, out = d.run("check", "--live", "--config", up.path)
		line = lineWith(out, ref)
		if (code != 0 && line != "") || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if code == 0 || line == "" {
		t.Fatalf("%s after filing (budget %s), check --live does not report %s: exit %d\n%s",
			time.Since(filed).Round(time.Second), budget, ref, code, out)
	}
	t.Logf("check --live reports after %s: %s", time.Since(filed).Round(time.Second), line)
	if reason := strings.TrimSpace(strings.Replace(line, ref, "", 1)); len([]rune(reason)) < 10 {
		t.Errorf("check --live names %s without a reason: %q", ref, line)
	}
	if code, out := d.run("check", "--live", "--config", down.path); code == 0 || lineWith(out, ref) == "" {
		t.Errorf("check --live with the unreachable Redmine: exit %d, want non-zero naming %s\n%s", code, ref, out)
	}
	if r := tenant.get(srv.in.baseURL, req.ID); r.RedmineIssueID != nil {
		t.Fatalf("%s has issue #%d though Redmine was unreachable", ref, *r.RedmineIssueID)
	}

	// The admin fixes the address, restarts, and runs resync.
	srv.terminate()
	srv = d.serve(up)
	code, out = d.run("resync", "--config", up.path)
	if code != 0 || !strings.Contains(out, ref) {
		t.Fatalf("resync: exit %d, want 0 naming %s\n%s", code, ref, out)
	}
	t.Logf("resync:\n%s", strings.TrimSpace(out))
	issue := tenant.waitIssue(srv.in.baseURL, req.ID, 60*time.Second)
	waitUntil(t, 60*time.Second, "the follow-up's note in Redmine", func() (bool, string) {
		is := rm.issue(issue)
		n := len(is.notesContaining(followUp))
		return n >= 1, fmt.Sprintf("#%d has %d note(s) with the follow-up", issue, n)
	})

	// Two more polls, then the counts: one issue, one note, nothing left to report.
	time.Sleep(2 * pollInterval)
	issues := rm.issuesOfReference(ref)
	if len(issues) != 1 || issues[0].ID != issue {
		t.Errorf("Redmine issues for %s: %v, want exactly [%d]", ref, issueIDs(issues), issue)
	}
	if n := len(rm.issue(issue).notesContaining(followUp)); n != 1 {
		t.Errorf("#%d has %d notes with the follow-up, want 1", issue, n)
	}
	total := 0
	for _, list := range rm.issuesOfPrefix(d.prefix) {
		total += len(list)
	}
	if total != 1 {
		t.Errorf("Redmine holds %d issues with prefix %s, want 1", total, d.prefix)
	}
	if code, out := d.run("check", "--live", "--config", up.path); code != 0 || lineWith(out, ref) != "" {
		t.Errorf("check --live after the resync: exit %d, want 0 without %s\n%s", code, ref, out)
	}
}

// lineWith returns the first line of out that contains s, "" when none.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
