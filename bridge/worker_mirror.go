package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/internal/fr"
	"passerelle/redmine"
)

// Client actions on one request are a sequence: the request itself, then each
// follow-up and close in the order the client made them. They are applied to
// Redmine by one drain per request (syncRequest): under the request's lock,
// it creates the issue if there is none yet, then takes the oldest pending
// action from the messages table (mirrored_at IS NULL), writes it, marks it
// and takes the next. A job is only a wake-up call for that drain: whichever
// job of the request runs drains everything in order, so a close can never
// be undone by an older follow-up retried late, and five follow-ups written
// during an outage reach Redmine as 1 2 3 4 5.
//
// River facts this relies on (read in river@v0.51.1):
//   - A snooze does not count as an attempt (the executor decrements it), so
//     a job snoozes only while another worker holds the request's lock, which
//     is bounded by that worker's JobTimeout; nothing snoozes while waiting
//     for an event that may never come.
//   - An exhausted job is discarded silently: the retry budget is therefore
//     enforced here (mirrorFailed), which records the stop on the request
//     before cancelling, so `check --live` and `resync` see it.
//   - The mirroring jobs have no unique options: each client action inserts
//     its own wake-up (in the transaction that stores it) and resync inserts
//     another; an extra drain finds nothing to do. Uniqueness would drop the
//     wake-up of an action stored while a drain is running (River's unique
//     states always include running).

// MirrorRequestArgs wakes up the drain of a request when it is filed (and
// when `passerelle resync` queues it again).
type MirrorRequestArgs struct {
	RequestID string `json:"request_id"`
	// Resync marks a job queued by `passerelle resync`: the drain also
	// re-reads the issue at the end, whatever it wrote.
	Resync bool `json:"resync,omitempty"`
}

// Kind names the job in River.
func (MirrorRequestArgs) Kind() string { return "mirror_request" }

// InsertOpts: no uniqueness (see above); the retry budget is time-based.
func (MirrorRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: mirrorMaxAttempts}
}

// MirrorMessageArgs wakes up the drain of a request when the client adds a
// follow-up or closes it. Jobs queued by older versions carry Reopen and Close;
// the drain reads both from the message itself now.
type MirrorMessageArgs struct {
	RequestID string `json:"request_id"`
	MessageID string `json:"message_id"`
	Reopen    bool   `json:"reopen,omitempty"`
	Close     bool   `json:"close,omitempty"`
}

// Kind names the job in River.
func (MirrorMessageArgs) Kind() string { return "mirror_message" }

// InsertOpts: no uniqueness (see above); the retry budget is time-based.
func (MirrorMessageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: mirrorMaxAttempts}
}

// mirrorMaxAttempts is only a backstop: the retry budget (redmine.retry_budget,
// 72 h by default) stops a job first. With retries capped at 5 min and ±20 %
// jitter, 72 h take at most 72h/4min ≈ 1,080 attempts.
const mirrorMaxAttempts = 5000

// lockBusyDelay is how long a job waits when another worker holds the
// request's lock (that worker is draining the same actions).
const lockBusyDelay = 2 * time.Second

// drainBudget bounds how long one job keeps taking new actions; the rest is
// left to a fresh job, so one job stays well within JobTimeout.
const drainBudget = 15 * time.Second

// runMirrorJob runs the drain for a job and enforces the retry budget.
func (b *Bridge) runMirrorJob(ctx context.Context, job *rivertype.JobRow, requestID string, resync bool) error {
	err := b.syncRequest(ctx, requestID, resync)
	if err == nil || isRiverControl(err) {
		return err
	}
	budget := b.cfg.Holder.Get().Redmine.RetryBudget
	if job.Attempt < job.MaxAttempts && b.now().Sub(job.CreatedAt) < budget {
		return err // River retries with backoff
	}
	return b.mirrorFailed(ctx, requestID, fmt.Errorf("abandon après %d tentatives depuis le %s : %w",
		job.Attempt, fr.DateTime(job.CreatedAt.In(time.Local)), err))
}

// mirrorFailed records that a request's mirroring stopped for good and
// cancels the job. Nothing is lost: the actions stay pending in the customer
// space, `passerelle check --live` lists the request, and `passerelle resync`
// queues it again once the cause is fixed.
func (b *Bridge) mirrorFailed(ctx context.Context, requestID string, cause error) error {
	b.log.WithFields(logrus.Fields{"request_id": requestID}).WithError(cause).
		Error("mirroring of this request stopped until an admin fixes the cause and runs passerelle resync")
	if err := b.cfg.Store.SetMirrorError(context.WithoutCancel(ctx), requestID, cause.Error()); err != nil && !errors.Is(err, espaceclient.ErrNotFound) {
		return fmt.Errorf("recording why %s stopped: %w", requestID, err)
	}
	return river.JobCancel(cause)
}

// errStopped is a permanent error: the cause is recorded on the request and
// the drain stops until `passerelle resync`.
type errStopped struct{ err error }

func (e errStopped) Error() string { return e.err.Error() }
func (e errStopped) Unwrap() error { return e.err }

// stop marks err as permanent.
func stop(format string, args ...any) error { return errStopped{fmt.Errorf(format, args...)} }

// retryOrStop wraps a Redmine error: a 4xx that retrying cannot fix becomes
// permanent; anything else (down, 5xx, timeout) is retried.
func retryOrStop(log *logrus.Entry, doing string, err error) error {
	err = fmt.Errorf("%s: %w", doing, err)
	if redmine.IsPermanent(err) {
		return errStopped{err}
	}
	log.WithError(err).Warn("Redmine not reachable or failing; will retry")
	return err
}

// syncRequest drains a request: issue first, then each pending client action
// in order. It returns nil when everything is in Redmine, a River snooze when
// another worker holds the request, a cancel when the request is stopped, or
// an error to retry.
func (b *Bridge) syncRequest(ctx context.Context, requestID string, resync bool) error {
	var result error
	ok, err := b.sync.withRequestLock(ctx, requestID, func() error {
		result = b.drainLocked(ctx, requestID, resync)
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(lockBusyDelay)
	}
	var st errStopped
	if errors.As(result, &st) {
		return b.mirrorFailed(ctx, requestID, st.err)
	}
	return result
}

func (b *Bridge) drainLocked(ctx context.Context, requestID string, resync bool) error {
	started := time.Now()
	req, err := b.cfg.Store.GetRequest(ctx, requestID)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("request %s no longer exists", requestID))
	}
	if err != nil {
		return err
	}
	if req.MirrorError != "" {
		// Stopped: later actions wait behind the one that failed, in order.
		return river.JobCancel(fmt.Errorf("request %s is stopped until resync: %s", req.Reference, req.MirrorError))
	}
	log := b.log.WithFields(logrus.Fields{"request_id": req.ID, "reference": req.Reference})
	var last *redmine.Issue // the issue as last read after a write
	if req.RedmineIssueID == nil {
		adopted, err := b.createIssueLocked(ctx, req.ID)
		if err != nil {
			return err
		}
		if req, err = b.cfg.Store.GetRequest(ctx, requestID); err != nil {
			return err
		}
		if adopted != nil {
			// An issue adopted later than the poll overlap may carry staff
			// answers no poll will list again: apply it now.
			last = adopted
		}
	}
	if req.RedmineIssueID == nil {
		return fmt.Errorf("request %s: issue not recorded", req.Reference)
	}
	issueID := *req.RedmineIssueID
	log = log.WithField("issue_id", issueID)
	for {
		msg, ok, err := b.cfg.Store.NextClientAction(ctx, req.ID)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		issue, err := b.mirrorActionLocked(ctx, log, req, issueID, msg)
		if err != nil {
			return err
		}
		last = &issue
		if time.Since(started) > drainBudget {
			// Leave the rest to a fresh job (this one stays within JobTimeout).
			if _, err := b.river.Insert(ctx, MirrorRequestArgs{RequestID: req.ID}, nil); err != nil {
				return err
			}
			return nil
		}
	}
	if last == nil && resync {
		is, err := b.rm.GetIssue(ctx, issueID, "journals", "attachments")
		if err != nil {
			return retryOrStop(log, "reading the issue", err)
		}
		last = &is
	}
	if last != nil {
		// Status changes held back while the client's actions were pending
		// are applied now, from what Redmine just answered.
		if err := b.applyIssue(ctx, req.ID, *last); err != nil {
			log.WithError(err).Warn("applying the issue after the client's actions; the poller will do it")
			return b.enqueueRetryIssue(ctx, issueID)
		}
	}
	return nil
}

// isRiverControl tells River's snooze and cancel errors from real failures.
func isRiverControl(err error) bool {
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	return errors.As(err, &snooze) || errors.As(err, &cancel)
}
