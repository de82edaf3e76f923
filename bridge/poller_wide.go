package bridge

import (
	"context"
	"fmt"
	"time"

	"passerelle/config"
	"passerelle/redmine"
)

// Two windows: a tight one on every poll, a wide re-read once per overlap.
//
// Facts and reasoning (Redmine 5.0.4; FACTS.md "Redmine REST behaviour"):
//
//   - updated_on and the Date header are whole seconds. A poll's cursor is
//     the Date of its first list answer less a second, so a change stamped
//     in the second the list ran is listed again by the next poll.
//
//   - The filter updated_on=>=T lists a second more than asked: Redmine's
//     query is "updated_on > T less 1 s" (Query#date_clause) and the column
//     keeps fractions of a second. Checked on this stack: an issue updated
//     at 19:35:07 is listed by >=19:35:08, not by >=19:35:09.
//
//   - Tight window, every poll: the next poll lists from the cursor less
//     tightWindow (2 s). It covers the ordinary lag between the instant Rails
//     stamps updated_on and the instant a list query sees the change: the
//     write's own transaction (about 120 ms for a creation on this stack),
//     and the time from the list query to its Date header (up to about
//     0.5 s for a filtered list). Its cost: an idle poll lists again the
//     changes of the last 1 + 2 + 1 = 4 s before the previous poll; at the
//     ~20 writes a second this Redmine takes at most, 80, under a page of
//     100. So an idle poll is one request however recent the last burst,
//     where re-listing the whole overlap (2 min) on every poll was several
//     pages for 2 minutes after a burst (docs/BENCHMARKS.md, section 5: 3
//     requests a cycle).
//
//   - Wide re-read, once per redmine.poll_overlap: it lists from the wide
//     cursor (Redmine's clock at the previous wide re-read, less a second)
//     less the overlap, paging as a poll does. It guards against a change
//     that becomes visible later than the tight window after its updated_on:
//     a slow transaction (a large attachment, a lock wait, SQLite's busy
//     timeout, a plugin's hook), or a Date header written by a machine whose
//     clock is a few seconds off the one stamping updated_on (a proxy). Such
//     a change, visible now and not at the previous wide re-read, has an
//     updated_on no more than an overlap before it became visible, so after
//     the wide cursor less the overlap: it is listed. That is the guarantee
//     re-listing the overlap on every poll gave, given later: within an
//     overlap and two poll intervals of becoming visible.
//
//   - The re-read is due in the first poll whose cursor (the previous poll's
//     Redmine clock) is an overlap or more past the wide cursor. Both
//     cursors are rows of sync_cursors ("redmine_issues",
//     "redmine_issues_wide"), moved forward only: a restart neither forgets
//     a due re-read nor runs an extra one. A database polled by a version
//     without the wide cursor starts it at the cursor (that version
//     re-listed the overlap on every poll).
//
//   - Its cost: once per overlap, the changes of its window (two overlaps
//     and up to two intervals), 100 a page, none fetched again (issues already
//     applied are skipped by issueUpdatedOn). New changes come first: the
//     tight list runs before the wide re-read's second page, and when its
//     first page holds the whole window it also stands for the tight list
//     (one request: an idle cycle stays at one).
//
//   - With an overlap no wider than tightWindow (tests use 2 s), every poll
//     reads the whole overlap: there is no separate re-read, and the wide
//     cursor moves with the cursor.
//
//   - A limit of both windows, as of the overlap on every poll before them:
//     an issue read (a nudge, another change) after a late change was
//     stamped and before it committed is marked applied as of that read
//     (appliedAsOf), after the change's updated_on, so the change is
//     skipped until the issue changes again.
//
// The listing of one window, page by page, is below; PollOnce (poller.go)
// runs the windows.

const wideCursor = "redmine_issues_wide"

// tightWindow is how far before the cursor every poll lists (above).
const tightWindow = 2 * time.Second

// tightWidth is the tight window for an overlap: never wider than it.
func tightWidth(overlap time.Duration) time.Duration { return min(tightWindow, overlap) }

// wideDue tells whether a poll starting from cursor re-reads the overlap:
// it is wider than the tight window, and the previous re-read (wide) is an
// overlap or more before cursor.
func wideDue(cursor, wide time.Time, overlap time.Duration) bool {
	return overlap > tightWindow && !cursor.Before(wide.Add(overlap))
}

// wideReread returns the wide re-read's listing when this poll is due for
// one, nil otherwise. cursor is the poll's cursor (ok false: none, and the
// poll lists everything). A missing wide cursor starts at the cursor.
func (b *Bridge) wideReread(ctx context.Context, overlap time.Duration, cursor time.Time, ok bool) (*listing, error) {
	if !ok || overlap <= tightWindow {
		return nil, nil // the tight list reads everything, or the whole overlap
	}
	wide, ok, err := b.sync.cursor(ctx, wideCursor)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, b.sync.setCursor(ctx, wideCursor, cursor)
	}
	if !wideDue(cursor, wide, overlap) {
		return nil, nil
	}
	return &listing{wide: true, since: wide.Add(-overlap), maxSeen: wide}, nil
}

const pageSize = 100 // Redmine's cap on limit

// listing is one window of a poll: the issues carrying a reference updated
// at or after since, listed a page at a time in updated_on order.
type listing struct {
	wide      bool
	since     time.Time
	offset    int
	serverNow time.Time // Redmine's clock at the first page (its Date header)
	maxSeen   time.Time // the latest updated_on listed, or the cursor it started from
	done      bool      // the last page is listed
}

// listPage lists l's next page and moves l past it.
func (b *Bridge) listPage(ctx context.Context, cfg *config.Config, l *listing, st *PollStats) ([]redmine.Issue, error) {
	page, err := b.rm.ListIssues(ctx, redmine.IssueQuery{
		UpdatedSince: l.since,
		CustomFields: map[int]string{cfg.Redmine.CustomFields.Reference: "*"},
		Sort:         "updated_on,id",
		Limit:        pageSize,
		Offset:       l.offset,
	})
	st.Pages++
	if l.wide {
		st.WidePages++
	} else {
		st.TightPages++
	}
	if err != nil {
		if l.wide {
			return nil, fmt.Errorf("listing changed issues (re-reading the overlap): %w", err)
		}
		return nil, fmt.Errorf("listing changed issues: %w", err)
	}
	st.Listed += len(page.Issues)
	if l.serverNow.IsZero() {
		l.serverNow = page.ServerTime
	}
	for _, is := range page.Issues {
		if is.UpdatedOn.After(l.maxSeen) {
			l.maxSeen = is.UpdatedOn
		}
	}
	if len(page.Issues) < pageSize || l.offset+len(page.Issues) >= page.TotalCount {
		l.done = true
		return page.Issues, nil
	}
	last := page.Issues[len(page.Issues)-1].UpdatedOn.Truncate(time.Second)
	if last.After(l.since) {
		l.since, l.offset = last, 0
	} else {
		l.offset += len(page.Issues) // a whole page within one second
	}
	return page.Issues, nil
}

// cursor is where a listing leaves its cursor: Redmine's clock at its first
// page less a second (the header is truncated to the second), or without a
// Date header the last change seen.
func (l *listing) cursor() time.Time {
	if !l.serverNow.IsZero() {
		return l.serverNow.Add(-time.Second)
	}
	return l.maxSeen
}

// drain applies first (a page already listed), then lists and applies the
// rest of l.
func (b *Bridge) drain(ctx context.Context, cfg *config.Config, l *listing, first []redmine.Issue, st *PollStats) error {
	if err := b.applyIssues(ctx, first, st); err != nil {
		return err
	}
	for !l.done {
		page, err := b.listPage(ctx, cfg, l, st)
		if err != nil {
			return err
		}
		if err := b.applyIssues(ctx, page, st); err != nil {
			return err
		}
	}
	return nil
}

// setCursors moves the named cursors to t (forward only); a zero t (no Date
// header, nothing listed, no cursor before) leaves them.
func (b *Bridge) setCursors(ctx context.Context, t time.Time, names ...string) error {
	if t.IsZero() {
		return nil
	}
	for _, name := range names {
		if err := b.sync.setCursor(ctx, name, t); err != nil {
			return err
		}
	}
	return nil
}
