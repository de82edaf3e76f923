package bridge_test

// The poll's two windows (bridge/poller_wide.go): every poll lists from its
// cursor less a few seconds; once per redmine.poll_overlap a poll re-reads
// the overlap, for a change Redmine committed late.

import (
	"context"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/app"
	"passerelle/bridge"
	"passerelle/config"
	"passerelle/redmine"
)

// A burst of more than a page of changes, well within the overlap: once the
// burst is older than the tight window, an idle poll is one request (it was
// one request per 100 changes of the overlap, for the whole overlap).
func TestIdlePollWithinTheOverlapOfABurstCostsOneRequest(t *testing.T) {
	// A long overlap: the burst stays within it, and the overlap's re-read
	// is not due, for the whole test.
	const overlap = 10 * time.Minute
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.PollOverlap = overlap }})
	ctx := context.Background()
	h.poll()
	burstStart := burst(t, h, 105)
	time.Sleep(4 * time.Second) // past the tight window and the cursor's second, on Redmine's clock
	if st := h.poll(); st.TightPages < 2 || st.Listed < 105 || st.WidePages != 0 {
		t.Fatalf("the burst poll: %+v; want 2 tight pages or more, 105 issues listed or more, no re-read", st)
	}
	for i := 0; i < 2; i++ {
		before := h.net.calls.Load()
		st := h.poll()
		if n := h.net.calls.Load() - before; n != 1 || st.TightPages != 1 || st.WidePages != 0 || st.Fetched != 0 {
			t.Errorf("idle poll %d after the burst: %d Redmine requests (%+v); want 1, a tight list", i, n, st)
		}
	}
	cursor, _, err := h.bridge.IssuesCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !cursor.Add(-overlap).Before(burstStart) {
		t.Errorf("premise: the burst (from %s) is no longer within the overlap of the cursor %s", burstStart, cursor)
	}
}

// When the overlap's re-read is due and its window holds less than a page,
// its one request is the whole poll: the cycle stays at one request.
func TestOverlapRereadOfAQuietWindowCostsOneRequest(t *testing.T) {
	const overlap = 6 * time.Second
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.PollOverlap = overlap }})
	h.poll()
	time.Sleep(overlap + 2*time.Second)
	h.poll() // its cursor is an overlap past the re-read the start made
	for _, want := range []struct {
		name              string
		tight, wide, reqs int
	}{
		{"the poll that re-reads the overlap", 0, 1, 1},
		{"the next poll", 1, 0, 1},
	} {
		before := h.net.calls.Load()
		st := h.poll()
		if n := h.net.calls.Load() - before; n != int64(want.reqs) || st.TightPages != want.tight || st.WidePages != want.wide {
			t.Errorf("%s: %d Redmine requests, %d tight and %d wide list requests (%+v); want %d, %d and %d",
				want.name, n, st.TightPages, st.WidePages, st, want.reqs, want.tight, want.wide)
		}
	}
}

// When the overlap's re-read holds more than a page, new changes still come
// first: its first page, then the tight list and the issues it applies, then
// the re-read's other pages.
func TestOverlapRereadOfABurstListsNewChangesFirst(t *testing.T) {
	const overlap = 10 * time.Second
	h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.PollOverlap = overlap }})
	ctx := context.Background()
	tenant, r, issueID := h.mirrored("autre")
	h.settled(r.ID)
	wide, ok, err := h.bridge.WideCursor(ctx)
	if err != nil || !ok {
		t.Fatalf("no wide cursor after the start (ok=%v): %v", ok, err)
	}
	time.Sleep(overlap + time.Second)
	if st := h.poll(); st.WidePages != 0 { // its cursor is an overlap past the re-read: the next poll re-reads
		t.Fatalf("premise: the overlap re-read a poll early (%+v)", st)
	}
	cursor, _, err := h.bridge.IssuesCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	burst(t, h, 105)
	note := "Bonjour, le technicien passe demain (écrit juste après une rafale)."
	if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: note}); err != nil {
		t.Fatal(err)
	}
	stop := h.net.record()
	st := h.poll()
	calls := stop()
	if st.WidePages < 2 || st.TightPages < 2 {
		t.Fatalf("premise: the poll after the burst should list it in both windows, 2 pages or more each (%+v)", st)
	}
	since := func(t time.Time) string { return ">=" + t.UTC().Format("2006-01-02T15:04:05Z") }
	lists, readAfter := 0, -1
	for _, c := range calls {
		switch {
		case c.Method == "GET" && strings.HasSuffix(c.URL.Path, "/issues.json"):
			got := c.URL.Query().Get("updated_on")
			if want := since(wide.Add(-overlap)); lists == 0 && got != want {
				t.Errorf("the first list reads from %s, want the re-read's %s", got, want)
			}
			if want := since(cursor.Add(-2 * time.Second)); lists == 1 && got != want {
				t.Errorf("the second list reads from %s, want the tight window's %s", got, want)
			}
			lists++
		case c.Method == "GET" && strings.HasSuffix(c.URL.Path, "/issues/"+strconv.Itoa(int(issueID))+".json") && readAfter < 0:
			readAfter = lists
		}
	}
	if readAfter < 0 || readAfter > 1+st.TightPages {
		t.Errorf("the noted issue was read after %d list requests, want after the re-read's first and the %d tight ones (%+v)", readAfter, st.TightPages, st)
	}
	if n := countMessages(tenant.get(r.ID), "message", note); n != 1 {
		t.Errorf("the note is shown %d times, want 1", n)
	}
}

// A staff note Redmine committed late: its updated_on is older than the
// tight window of every poll that could see it. The overlap's re-read
// applies it once due, and not before; across a restart too, since its
// cursor is in the database.
func TestLateCommitIsAppliedByTheOverlapReread(t *testing.T) {
	const overlap = 6 * time.Second
	for _, tc := range []struct {
		name    string
		restart bool
	}{
		{"by the same daemon", false},
		{"by a daemon restarted on the same database", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{mutateConfig: func(c *config.Config) { c.Redmine.PollOverlap = overlap }})
			ctx := context.Background()
			tenant, r, issueID := h.mirrored("autre")
			h.settled(r.ID)
			h.poll()
			note := "Bonjour, le devis est accepté (note validée tard par Redmine)."
			if err := h.staff.UpdateIssue(ctx, issueID, redmine.IssueUpdate{Notes: note}); err != nil {
				t.Fatal(err)
			}
			is, err := h.admin.GetIssue(ctx, issueID)
			if err != nil {
				t.Fatal(err)
			}
			// The late commit: a poll 5 s after the note's updated_on, and
			// the overlap's re-read with it, did not see the note (as if it
			// committed after them). The cursors move forward only, as a
			// poll moves them. The next poll's tight window then starts 2 s
			// after the note, which Redmine lists from a second before
			// (poller_wide.go): still after it.
			time.Sleep(5 * time.Second) // Redmine's clock past that poll
			seenAt := is.UpdatedOn.Add(4 * time.Second)
			h.moveCursor(bridge.IssuesCursorName, seenAt)
			h.moveCursor(bridge.WideCursorName, seenAt)
			for i := 0; i < 2; i++ {
				st := h.poll()
				if st.WidePages != 0 {
					t.Fatalf("poll %d re-read the overlap before it was due (%+v)", i, st)
				}
				if n := countMessages(tenant.get(r.ID), "message", note); n != 0 {
					t.Fatalf("poll %d applied the late note before the overlap's re-read: its tight window reaches back to it", i)
				}
				if i == 0 {
					time.Sleep(overlap + 2*time.Second)
				}
			}
			if tc.restart {
				h.restart()
			}
			st := h.poll()
			if st.WidePages == 0 {
				t.Fatalf("the poll an overlap after the re-read did not re-read it (%+v)", st)
			}
			if n := countMessages(tenant.get(r.ID), "message", note); n != 1 {
				t.Fatalf("the late note is shown %d times after the overlap's re-read, want 1 (%+v)", n, st)
			}
			wide, ok, err := h.bridge.WideCursor(ctx)
			if err != nil || !ok || !wide.After(seenAt) {
				t.Errorf("the wide cursor is %s (ok=%v, %v), want past %s", wide, ok, err, seenAt)
			}
			if cur, _, err := h.bridge.IssuesCursor(ctx); err != nil || cur.Before(wide) {
				t.Errorf("the cursor %s is before the wide cursor %s (%v)", cur, wide, err)
			}
			h.poll()
			if n := countMessages(tenant.get(r.ID), "message", note); n != 1 {
				t.Errorf("the late note is shown %d times after one more poll, want 1", n)
			}
		})
	}
}

// burst creates n issues carrying a reference (not ours) and returns the
// first one's updated_on.
func burst(t *testing.T, h *harness, n int) time.Time {
	t.Helper()
	ctx := context.Background()
	p, err := h.admin.Project(ctx, "gestion-locative")
	if err != nil {
		t.Fatal(err)
	}
	var start time.Time
	for i := 0; i < n; i++ {
		is, err := h.admin.CreateIssue(ctx, redmine.IssueCreate{ProjectID: p.ID, Subject: "Rafale " + strconv.Itoa(i),
			CustomFields: []redmine.CustomFieldSet{{ID: h.cfg.Redmine.CustomFields.Reference, Value: uniqueName("RAFALE")}}})
		if err != nil {
			t.Fatal(err)
		}
		if start.IsZero() {
			start = is.UpdatedOn
		}
	}
	return start
}

// moveCursor moves a row of sync_cursors forward to at, as a poll would.
func (h *harness) moveCursor(name string, at time.Time) {
	h.t.Helper()
	tag, err := h.pool.Exec(context.Background(),
		`UPDATE sync_cursors SET cursor_at = GREATEST(cursor_at, $2), updated_at = now() WHERE name = $1`, name, at)
	if err != nil || tag.RowsAffected() != 1 {
		h.t.Fatalf("moving cursor %s to %s: %d rows, %v", name, at, tag.RowsAffected(), err)
	}
}

// restart stops the daemon and starts another on the same database, as a
// new process would: h.app, h.store, h.bridge and h.srv are the new one's.
func (h *harness) restart() {
	h.t.Helper()
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.app.Stop(sctx); err != nil {
		h.t.Fatalf("stopping the first daemon: %v", err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	a, err := app.New(context.Background(), app.Options{Config: h.cfg, Log: log, Pool: h.pool, RedmineTransport: h.net,
		NoPeriodic: true, MaxRetryDelay: time.Second, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(a.Close)
	// The harness's cleanup stops h.app: the new daemon from now on.
	h.app, h.store, h.bridge = a, a.Store(), a.Bridge()
	h.srv = httptest.NewServer(a.Handler())
	h.t.Cleanup(h.srv.Close)
	if err := a.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}
