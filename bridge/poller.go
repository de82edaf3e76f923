package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/redmine"
)

// oneAtATime are the unique states for "one queued or running at a time".
//
// River fact (river@v0.51.1, insert_opts.go): UniqueOpts{ByArgs: true}
// without ByState uses the default unique states, which include completed:
// the first completed job then blocks every later insert with the same args
// until completed-job retention (24 h) deletes it — the poll ran once and
// never again. ByState must contain available, pending, running and
// scheduled (River refuses a list without them); completed, cancelled and
// discarded are left out so a finished job never blocks the next one.
var oneAtATime = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// PollArgs is the periodic job that lists the issues changed in Redmine.
type PollArgs struct{}

// Kind names the job in River.
func (PollArgs) Kind() string { return "poll_redmine" }

// InsertOpts: a failed poll is not retried (the next tick polls again), and
// no uniqueness. One poll at a time is the poll's session lock instead
// (LockPoll, taken by the worker; a poll that finds it held does nothing):
// River's unique states always include running, so a poll left "running" by
// a SIGKILLed leader blocked every later poll until River's rescuer took it,
// 50 to 80 s (seen on the binary: e2e TestTwentyKillsDuringBurst, a staff
// note after the burst not seen within poll + 2 s). PostgreSQL drops a dead
// session's lock at once.
func (PollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1}
}

// RefreshIssueArgs is the job a webhook nudge enqueues: fetch that one issue
// now. The webhook's content is never trusted; only the id is used, and only
// for an issue Passerelle mirrors. Not unique: a nudge that arrives while a
// refresh of the same issue runs may come after that refresh's read, so it
// must run again (River's unique states always include running).
type RefreshIssueArgs struct {
	IssueID redmine.IssueID `json:"issue_id"`
}

// Kind names the job in River.
func (RefreshIssueArgs) Kind() string { return "refresh_issue" }

// InsertOpts: a few retries; the poller is the safety net.
func (RefreshIssueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5}
}

// RetryIssueArgs retries, on its own, an issue the poller could not apply (or
// found locked by a drain), so the poll cursor can move past it.
type RetryIssueArgs struct {
	IssueID redmine.IssueID `json:"issue_id"`
}

// Kind names the job in River.
func (RetryIssueArgs) Kind() string { return "retry_issue" }

// InsertOpts keeps one retry queued per issue; the retry budget stops it.
func (RetryIssueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: mirrorMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: oneAtATime}}
}

// Nudge enqueues an immediate refresh of one issue.
func (b *Bridge) Nudge(ctx context.Context, issueID redmine.IssueID) error {
	_, err := b.river.Insert(ctx, RefreshIssueArgs{IssueID: issueID}, nil)
	return err
}

func (b *Bridge) enqueueRetryIssue(ctx context.Context, issueID redmine.IssueID) error {
	if _, err := b.river.Insert(ctx, RetryIssueArgs{IssueID: issueID}, nil); err != nil {
		return fmt.Errorf("queueing a retry of issue %d: %w", issueID, err)
	}
	return nil
}

const issuesCursor = "redmine_issues"

// PollStats says what one poll did.
type PollStats struct {
	Listed  int // issues listed (one listed by both windows counts twice)
	Fetched int // issues read again
	Pages   int // list requests: TightPages + WidePages
	// TightPages are the list requests of the tight window (from the cursor
	// less tightWindow), WidePages those of the wide re-read (from the wide
	// cursor less the overlap, poller_wide.go). A wide re-read whose first
	// page holds its whole window stands for the tight list: 0 and 1.
	TightPages int
	WidePages  int
	Failed     int // issues that could not be applied (retried on their own)
}

// PollOnce lists the issues that carry a customer-space reference and
// changed since the stored cursor minus the tight window (tightWindow), and
// applies each one that changed since it was last applied; once per
// redmine.poll_overlap it also re-reads the whole overlap (the wide re-read,
// poller_wide.go: why two windows, and what each guards against). An idle
// poll costs one list request, however recent the last burst.
//
// The cursor is Redmine's own clock (the Date header of the poll's first list
// answer), so the two machines' clocks need not agree. The next poll reads
// from that instant minus the tight window; an update Redmine had not
// committed when this poll listed (a slow transaction) may carry an older
// updated_on, and the wide re-read lists it.
//
// Pages follow updated_on rather than an offset: an issue changed while the
// poll runs moves to the end of the list, and with offsets the issues after
// it would shift back onto a page already read and be skipped. Each page
// starts at the last updated_on seen (>=, so the boundary second is listed
// again); an offset is used only inside a single second holding more than a
// page of issues.
//
// One issue never stops the others: an issue that fails (a note PostgreSQL
// refuses, a 5xx on that issue alone) is recorded in issue_sync_state, retried
// by a retry_issue job of its own and reported by `check --live`, and the
// cursor moves on. Only a failure that is not about one issue (Redmine or the
// database unreachable) ends the poll with the cursors kept.
func (b *Bridge) PollOnce(ctx context.Context) (PollStats, error) {
	var st PollStats
	cfg := b.cfg.Holder.Get()
	overlap := cfg.Redmine.PollOverlap
	cursor, ok, err := b.sync.cursor(ctx, issuesCursor)
	if err != nil {
		return st, err
	}
	var since time.Time
	if ok {
		since = cursor.Add(-tightWidth(overlap))
	} else {
		// No cursor yet. When nothing is mirrored either (a new deployment),
		// no issue Redmine holds can be one of ours: start the cursor at
		// Redmine's clock now rather than listing every issue that carries
		// a reference (all of Redmine's history, many pages, before the
		// first change can reach a client). An issue mirrored from now on
		// has an updated_on after that instant.
		mirrored, err := b.sync.anyMirrored(ctx)
		if err != nil {
			return st, err
		}
		if !mirrored {
			return st, b.startCursor(ctx)
		}
	}
	wide, err := b.wideReread(ctx, overlap, cursor, ok)
	if err != nil {
		return st, err
	}
	var first []redmine.Issue
	var wideErr error
	if wide != nil {
		// The wide window holds the tight one (the wide cursor is never
		// after the cursor, and the overlap is wider than the tight window):
		// when its first page is the whole of it, that one request is the
		// poll, new changes included. When it fails, the tight list still
		// runs (new changes are not held up by the re-read) and the poll
		// fails after it, the wide cursor kept: due again next poll.
		if first, wideErr = b.listPage(ctx, cfg, wide, &st); wideErr != nil {
			wide = nil
		} else if wide.done {
			if err := b.applyIssues(ctx, first, &st); err != nil {
				return st, err
			}
			return st, b.setCursors(ctx, wide.cursor(), issuesCursor, wideCursor)
		}
	}
	// New changes first (latency): the tight window, then the rest of the
	// wide re-read.
	tight := &listing{since: since, maxSeen: cursor}
	if err := b.drain(ctx, cfg, tight, nil, &st); err != nil {
		return st, err
	}
	names := []string{issuesCursor}
	if !ok || tightWidth(overlap) == overlap {
		// This list read everything (no cursor), or the whole overlap: it
		// is a wide re-read too.
		names = append(names, wideCursor)
	}
	if err := b.setCursors(ctx, tight.cursor(), names...); err != nil {
		return st, err
	}
	if wide == nil {
		return st, wideErr
	}
	if err := b.drain(ctx, cfg, wide, first, &st); err != nil {
		return st, err
	}
	return st, b.setCursors(ctx, wide.cursor(), wideCursor)
}

// applyIssues applies each listed issue that changed since it was last
// applied. An issue that fails is set aside (issueFailed); only a failure
// that is not about one issue is returned.
func (b *Bridge) applyIssues(ctx context.Context, issues []redmine.Issue, st *PollStats) error {
	if len(issues) == 0 {
		return nil
	}
	ids := make([]redmine.IssueID, len(issues))
	for i, is := range issues {
		ids[i] = is.ID
	}
	applied, err := b.sync.issueUpdatedOn(ctx, ids)
	if err != nil {
		return err
	}
	for _, is := range issues {
		// applied is Redmine's clock when the issue was last read, less
		// a second: a change after that read has an updated_on at or
		// after it, even within the same second.
		if t, ok := applied[is.ID]; ok && is.UpdatedOn.Before(t) {
			continue
		}
		fetched, err := b.refresh(ctx, is.ID)
		if fetched {
			st.Fetched++
		}
		if err == nil {
			continue
		}
		if errors.Is(err, errIssueBusy) {
			// A drain holds the request and applies the issue when done;
			// a retry makes sure of it.
			if err := b.enqueueRetryIssue(ctx, is.ID); err != nil {
				return err
			}
			continue
		}
		if notAboutOneIssue(err) {
			return err // keep the cursors: the next poll reads again
		}
		st.Failed++
		if ferr := b.issueFailed(ctx, is.ID, err); ferr != nil {
			return ferr
		}
	}
	return nil
}

// initCursor starts the poll cursor of a new deployment (no cursor, nothing
// mirrored) at Redmine's clock before this process runs any job, so the
// first poll does not list all of Redmine's history even when a request is
// mirrored before it runs. A failure (Redmine unreachable) only logs: the
// first poll then starts the cursor, or lists everything if something was
// mirrored by then.
func (b *Bridge) initCursor(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, ok, err := b.sync.cursor(ctx, issuesCursor)
	if err == nil && !ok {
		var mirrored bool
		if mirrored, err = b.sync.anyMirrored(ctx); err == nil && !mirrored {
			err = b.startCursor(ctx)
		}
	}
	if err != nil {
		b.log.WithError(err).Warn("could not start the poll cursor at Redmine's clock; the first poll will")
	}
}

// startCursor sets the poll cursor and the wide re-read's (poller_wide.go)
// to Redmine's clock (the Date header of a one-issue list) less a second, as
// a poll does when it ends: nothing before it is ours to re-read.
func (b *Bridge) startCursor(ctx context.Context) error {
	page, err := b.rm.ListIssues(ctx, redmine.IssueQuery{Limit: 1})
	if err != nil {
		return fmt.Errorf("reading Redmine's clock: %w", err)
	}
	if page.ServerTime.IsZero() {
		return nil // no Date header: the next poll lists everything
	}
	return b.setCursors(ctx, page.ServerTime.Add(-time.Second), issuesCursor, wideCursor)
}

// notAboutOneIssue tells a failure of Redmine or the network as a whole (no
// HTTP answer) from one about a single issue.
func notAboutOneIssue(err error) bool {
	var ae *redmine.APIError
	if errors.As(err, &ae) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// issueFailed records that an issue could not be applied and queues its own
// retry.
func (b *Bridge) issueFailed(ctx context.Context, issueID redmine.IssueID, cause error) error {
	b.log.WithField("issue_id", issueID).WithError(cause).Warn("issue could not be applied; retrying it on its own")
	b.metrics.pollIssueFailures.Inc()
	if err := b.sync.recordIssueFailure(ctx, issueID, cause.Error()); err != nil {
		return err
	}
	return b.enqueueRetryIssue(ctx, issueID)
}

// retryIssue is the retry_issue job.
func (b *Bridge) retryIssue(ctx context.Context, job *rivertype.JobRow, issueID redmine.IssueID) error {
	_, err := b.refresh(ctx, issueID)
	if errors.Is(err, errIssueBusy) {
		return river.JobSnooze(lockBusyDelay)
	}
	if err == nil {
		return b.sync.clearIssueFailure(ctx, issueID)
	}
	if rerr := b.sync.recordIssueFailure(ctx, issueID, err.Error()); rerr != nil {
		return rerr
	}
	if job.Attempt >= job.MaxAttempts || b.now().Sub(job.CreatedAt) >= b.cfg.Holder.Get().Redmine.RetryBudget {
		return river.JobCancel(fmt.Errorf("issue %d still failing after %d attempts (reported by check --live): %w", issueID, job.Attempt, err))
	}
	return err
}

// errIssueBusy: a drain of the issue's request holds its lock (and will apply
// the issue when done).
var errIssueBusy = errors.New("the request is being synced by another worker")

// refresh reads one mirrored issue with its journals and attachments and
// applies what changed, under the request's lock. fetched tells whether
// Redmine was asked at all (not for an issue Passerelle does not mirror, or
// whose mapping is not committed yet: it is not marked as applied, so a later
// poll sees it). When a drain holds the request, a retry_issue job is queued
// instead (fetched false, no error).
func (b *Bridge) refresh(ctx context.Context, issueID redmine.IssueID) (fetched bool, err error) {
	req, err := b.cfg.Store.RequestByIssue(ctx, issueID)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	locked, err := b.sync.withRequestLock(ctx, req.ID, func() error {
		fetched = true
		issue, err := b.rm.GetIssue(ctx, issueID, "journals", "attachments")
		if redmine.IsNotFound(err) || (redmine.IsPermanent(err)) {
			b.log.WithFields(logrus.Fields{"issue_id": issueID, "reference": req.Reference}).WithError(err).
				Warn("mirrored issue no longer readable in Redmine")
			return nil
		}
		if err != nil {
			return err
		}
		return b.applyIssue(ctx, req.ID, issue)
	})
	if err != nil {
		return fetched, err
	}
	if !locked {
		return false, errIssueBusy
	}
	return fetched, nil
}

// refreshIssue is the refresh_issue job (a webhook nudge).
func (b *Bridge) refreshIssue(ctx context.Context, issueID redmine.IssueID) error {
	_, err := b.refresh(ctx, issueID)
	if errors.Is(err, errIssueBusy) {
		return river.JobSnooze(lockBusyDelay)
	}
	if err == nil {
		b.log.WithField("issue_id", issueID).Debug("issue refreshed after a webhook nudge")
	}
	return err
}
