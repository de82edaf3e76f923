package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/bridge"
	"passerelle/internal/testenv"
	"passerelle/redmine"
)

// Issue 14: a request's first attempt costs one Redmine call, the POST (no
// search for an earlier attempt's issue: none can exist); a follow-up's, its
// PUT and the read after it for the journal's id (no read before).
func TestFirstAttemptsMakeNoSearch(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	warm, r0, _ := h.mirrored("autre") // the directory is loaded once, here
	h.settled(r0.ID)
	mark := h.net.mark()
	r := warm.create(map[string]string{"category": "autre", "subject": "Boîte aux lettres", "body": "La serrure de ma boîte aux lettres est cassée."})
	issueID := h.waitMirrored(warm, r.ID)
	h.settled(r.ID)
	if calls := h.net.callsSince(mark); len(calls) != 1 || calls[0] != "POST /issues.json" {
		t.Errorf("creating the issue made the calls %q, want only [POST /issues.json]", calls)
	}
	mark = h.net.mark()
	warm.postMessage(r.ID, "Le facteur ne peut plus déposer le courrier.")
	h.settled(r.ID)
	want := []string{fmt.Sprintf("PUT /issues/%d.json", issueID), fmt.Sprintf("GET /issues/%d.json?include=journals%%2Cattachments", issueID)}
	if calls := h.net.callsSince(mark); !slices.Equal(calls, want) {
		t.Errorf("mirroring the follow-up made the calls %q, want %q", calls, want)
	}
}

// A follow-up on an issue staff closed in Redmine since the last poll (the
// client still sees it open, so the message does not say "reopen"): the note
// goes in, then the issue is reopened, once; the client's request is open.
// A close made by staff after the note is their answer, and stays.
func TestFollowUpReopensAnIssueClosedUnderIt(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	h.settled(r.ID)
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{StatusID: h.statusID("Closed")}); err != nil {
		t.Fatal(err)
	}
	follow := "Le problème est revenu ce matin."
	tenant.postMessage(r.ID, follow)
	h.settled(r.ID)
	is, err := h.admin.GetIssue(ctx, issueID, "journals")
	if err != nil {
		t.Fatal(err)
	}
	if is.Status.Name != h.cfg.Redmine.ReopenStatus || !journalsContain(is, follow) {
		t.Errorf("after the follow-up the issue is %q (want %q), note present: %v", is.Status.Name, h.cfg.Redmine.ReopenStatus, journalsContain(is, follow))
	}
	h.poll()
	if got := tenant.get(r.ID); got.Status == "closed" || countMessages(got, "message", follow) != 1 {
		t.Errorf("client's request %s with %d copies of the follow-up, want open with 1", got.Status, countMessages(got, "message", follow))
	}
	// A second follow-up is written, then its attempt dies before recording
	// it, and staff close the issue in between (their answer to it): the
	// retry finds the note and leaves that close alone.
	var crashed atomic.Int32
	h.bridge.SetCrashAfterNoteWritten(func(any) error {
		if crashed.Add(1) > 1 {
			return nil
		}
		if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: "Réparé, merci.", StatusID: h.statusID("Closed")}); err != nil {
			t.Error(err)
		}
		return errInjected
	})
	again := "Merci pour votre passage."
	tenant.postMessage(r.ID, again)
	h.settled(r.ID)
	is, err = h.admin.GetIssue(ctx, issueID, "journals")
	if err != nil {
		t.Fatal(err)
	}
	if n := crashed.Load(); n != 1 {
		t.Fatalf("the crash point ran %d times, want 1 (the retry finds the note)", n)
	}
	if is.Status.Name != "Closed" || countJournals(is, again) != 1 {
		t.Errorf("after staff closed following the note and the retry: issue %q with %d copies of the note, want Closed and 1",
			is.Status.Name, countJournals(is, again))
	}
}

func countJournals(is redmine.Issue, text string) int {
	n := 0
	for _, j := range is.Journals {
		if strings.Contains(j.Notes, text) {
			n++
		}
	}
	return n
}

// The migration stores the live fingerprint (a copy of the bridge's
// expression): a new deployment's first requests are not searched for, and
// the copy cannot drift from the code unnoticed.
func TestNewDatabaseGuardHoldsTheLiveFingerprint(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	var same bool
	if err := pool.QueryRow(context.Background(), `SELECT fingerprint = `+bridge.LiveFingerprintSQL+` FROM rewind_guard`).Scan(&same); err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("the migration's fingerprint differs from the live one: migration 00080 and bridge/store_rewind.go liveFingerprintSQL must read the same")
	}
}

// Review #12 "RestoredJobSkipsSearchAndDuplicates": the database goes back
// to before the mirror job ran while Redmine keeps the issue (simulated in
// SQL: job back to attempt 0, attempt count, mapping and acknowledgment
// cleared): the rerun searches Redmine, adopts that issue and files no
// second one. Each case is a way the rewind becomes known: the rewind guard's
// stored fingerprint is the old incarnation's (a backup restored, a
// failover, a snapshot rolled back: PostgreSQL restarted or was replaced),
// or an admin ran `passerelle resync --after-restore` (rows rewritten in
// place, which nothing in PostgreSQL shows).
func TestSyncRerunAfterDatabaseRewindAdoptsTheIssue(t *testing.T) {
	cases := []struct {
		name   string
		notice func(ctx context.Context, pool *pgxpool.Pool) error
	}{
		{"another database incarnation", func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := pool.Exec(ctx, `UPDATE rewind_guard SET fingerprint = 'the incarnation the backup was taken from'`)
			return err
		}},
		{"rewritten in place, then resync --after-restore", bridge.MarkAllForSearch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { testRewindAdopts(t, tc.notice) })
	}
}

func testRewindAdopts(t *testing.T, notice func(ctx context.Context, pool *pgxpool.Pool) error) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	// A first request meets the new database (its guard holds no
	// fingerprint yet: everything filed so far is searched); the request
	// under test is filed after, searched only if the rewind is noticed.
	_, warm, _ := h.mirrored("autre")
	h.settled(warm.ID)
	tenant, r, first := h.mirrored("autre")
	h.settled(r.ID)
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := h.bridge.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	pool := h.store.Pool()
	for _, q := range []string{
		`UPDATE river_job SET state = 'available', attempt = 0, attempted_at = NULL, attempted_by = NULL, finalized_at = NULL, errors = '{}'
		 WHERE kind = 'mirror_request' AND args->>'request_id' = $1`,
		`UPDATE requests SET redmine_issue_id = NULL, redmine_status = '', status = 'new', create_attempts = 0 WHERE id = $1`,
		`UPDATE messages SET mirrored_at = NULL WHERE request_id = $1`,
		`DELETE FROM messages WHERE request_id = $1 AND kind = 'ack'`,
	} {
		tag, err := pool.Exec(ctx, q, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tag.RowsAffected() == 0 {
			t.Fatalf("rewind changed nothing: %s", q)
		}
	}
	if err := notice(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	second := h.waitMirrored(tenant, r.ID)
	found, err := h.admin.FindByCustomField(ctx, h.cfg.Redmine.CustomFields.Reference, r.Reference, 0)
	if err != nil {
		t.Fatal(err)
	}
	if second != first || len(found) != 1 || found[0].ID != first {
		t.Errorf("after the rewind the request is issue %d (was %d); Redmine issues with %s: %v, want exactly [%d]",
			second, first, r.Reference, bridge.IssueIDs(found), first)
	}
	if n := countMessages(tenant.get(r.ID), "ack", ""); n != 1 {
		t.Errorf("%d acknowledgments in the thread, want 1", n)
	}
}
