package deadlines

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// The alert job (AlertArgs) sends the e-mail (mail.go), then, for an
// escalation, writes a private note on the issue and raises its priority
// when configured (escalation.go); a step that fails (mail server or Redmine
// down) does not hold the other back. Each step records its outcome on the
// alert's row, so a retried job does again only what is not done:
//   - the note carries a marker (the deadline id); before writing, the job
//     looks for it in the journals the sync user wrote. Redmine shows a user
//     their own private notes even without view_private_notes, so the sync
//     user finds the note an earlier attempt wrote;
//   - the e-mail has a Message-ID derived from the alert, the same on every
//     attempt: the one window for a duplicate (the process dying between the
//     server's acceptance and the commit that records it) gives a message
//     that mail clients recognize as the same.

// AlertArgs is the job that carries out one claimed alert.
type AlertArgs struct {
	RequestID  string `json:"request_id"`
	DeadlineID string `json:"deadline_id"`
	// Alert is warning or escalation.
	Alert AlertKind `json:"alert"`
}

// Kind names the job in River.
func (AlertArgs) Kind() string { return "deadline_alert" }

// InsertOpts makes the job unique per alert; retries follow the bridge's
// backoff (60 attempts are about 4 h 24 min with retries capped at 5 min),
// and the watcher enqueues the alert again if River gives up. The default
// unique states (which include completed) are what is meant here: a
// completed alert job is a done alert, and must never run twice; discarded
// and cancelled jobs are not in them, so the watcher's redrive can insert.
func (AlertArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: alertMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// alertMaxAttempts bounds one alert job; the watcher redrives a pending alert
// whose job River gave up.
const alertMaxAttempts = 60

// RunAlert carries out one claimed alert, step by step (see the top of this
// file). Another worker on the same alert makes it snooze.
func (s *Service) RunAlert(ctx context.Context, a AlertArgs) error {
	var result error
	ok, err := s.store.withAlertLock(ctx, a, func() error {
		result = s.runAlertLocked(ctx, a)
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(10 * time.Second)
	}
	return result
}

func (s *Service) runAlertLocked(ctx context.Context, a AlertArgs) error {
	row, found, err := s.store.startAttempt(ctx, a)
	if err != nil {
		return err
	}
	if !found {
		return river.JobCancel(fmt.Errorf("no alert %s/%s for request %s", a.DeadlineID, a.Alert, a.RequestID))
	}
	if row.state != AlertPending {
		return nil
	}
	rt, err := s.current()
	if err != nil {
		return err
	}
	req, err := espaceclient.NewStore(s.pool).RequestHistory(ctx, a.RequestID)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("request %s no longer exists", a.RequestID))
	}
	if err != nil {
		return err
	}
	log := s.log.WithFields(logrus.Fields{"request_id": req.ID, "reference": req.Reference, "deadline_id": a.DeadlineID, "kind": a.Alert})
	now := s.now()
	rd := rt.rules.Compute(req)
	var d sla.Deadline
	found = false
	for _, x := range rd.Deadlines {
		if x.ID == a.DeadlineID {
			d, found = x, true
		}
	}
	nothingDone := row.mailState == MailPending && (row.noteState == NotePending || row.noteState == NoteNone)
	if !found || d.State != sla.Running {
		if nothingDone {
			log.Info("deadline met or stopped before its alert went out: alert cancelled")
			return s.store.finishAlert(ctx, a, AlertCancelled, "")
		}
		if !found {
			d = sla.Deadline{ID: a.DeadlineID, Target: sla.Target(row.target), Due: row.dueAt}
		}
	}

	// The issue tells who it is assigned to now, and holds the journals the
	// note step looks its marker up in.
	var issue *redmine.Issue
	var issueErr error
	if req.RedmineIssueID != nil {
		is, err := s.rm.GetIssue(ctx, *req.RedmineIssueID, "journals")
		if err != nil {
			issueErr = fmt.Errorf("reading issue %d: %w", *req.RedmineIssueID, err)
		} else {
			issue = &is
		}
	}

	// The two steps are independent: a mail server that is down does not
	// hold the Redmine note back, nor Redmine down the e-mail. A step that
	// failed is retried (the job returns its error); a step done is recorded
	// at once and never done again.
	var stepErr error
	if row.mailState == MailPending {
		state, to, msgID, err := s.sendAlertMail(ctx, log, rt, req, d, a.Alert, issue, now)
		if err == nil {
			err = s.store.recordMail(ctx, a, state, to, msgID)
		}
		stepErr = err
	}
	if a.Alert == AlertEscalation && row.noteState == NotePending {
		state, jid, err := s.writeEscalationNote(ctx, log, rt, req, d, issue, issueErr, now)
		if err == nil {
			err = s.store.recordNote(ctx, a, state, jid)
		}
		if err != nil && (stepErr == nil || isSnooze(stepErr)) {
			stepErr = err
		}
	}
	if stepErr != nil {
		if !isSnooze(stepErr) {
			_ = s.store.recordAlertError(ctx, a, stepErr.Error())
		}
		return stepErr // retried with backoff
	}
	return s.store.finishAlert(ctx, a, AlertDone, "")
}

func isSnooze(err error) bool {
	var snooze *rivertype.JobSnoozeError
	return errors.As(err, &snooze)
}
