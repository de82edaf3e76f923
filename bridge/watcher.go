package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"passerelle/bridge/sla"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/notify"
	"passerelle/redmine"
)

// The overdue watcher (issue 5).
//
// Every minute, on the elected leader only (a River periodic job), the
// watcher:
//  1. computes again the deadlines of the requests whose history changed
//     since their last computation, or whose rules changed (safety net for
//     the immediate computations of deadlines.go);
//  2. claims the alerts that fell due: for each running deadline, at its
//     warning time (75 % of the allowed time by default) a warning, at its due
//     time an escalation. The request's history is read again and the
//     deadlines recomputed under the request's row lock, so what is claimed
//     is exact; each claim is a deadline_alerts row (primary key: request,
//     deadline id, kind) inserted in the same transaction as the River job
//     that carries the alert out. Whatever the number of replicas, restarts
//     or overlapping runs, an alert is claimed once;
//  3. writes the "Échéance réponse" values Redmine did not take yet;
//  4. enqueues again the alerts whose job was given up (a long outage).
//
// The alert job (DeadlineAlertArgs) sends the e-mail, then, for an
// escalation, writes a private note on the issue (and raises its priority
// when configured); a step that fails (mail server or Redmine down) does not
// hold the other back. Each step records its outcome on the alert's row, so a
// retried job does again only what is not done:
//   - the note carries a marker (the deadline id); before writing, the job
//     looks for it in the journals the sync user wrote. Redmine shows a user
//     their own private notes even without view_private_notes, so the sync
//     user finds the note an earlier attempt wrote;
//   - the e-mail has a Message-ID derived from the alert, the same on every
//     attempt: the one window for a duplicate (the process dying between the
//     server's acceptance and the commit that records it) gives a message
//     that mail clients recognize as the same.
//
// Before the first escalation note of a project, the job checks that the
// sync user may make notes private (permission set_notes_private, as the
// role Developer has): Redmine silently drops private_notes otherwise, and
// the note would be public. Without it, no note is written (note_state
// refused, logged as an error) and the e-mail still goes out.
//
// The clock is the bridge's (Config.Now), so tests move time without sleeping.

// DeadlineWatchArgs is the watcher's periodic job.
type DeadlineWatchArgs struct{}

// Kind names the job in River.
func (DeadlineWatchArgs) Kind() string { return "deadline_watch" }

// InsertOpts keeps one watch queued or running at a time (not once ever:
// see oneAtATime); a failed run is not retried (the next minute's is).
func (DeadlineWatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: oneAtATime}}
}

// DeadlineAlertArgs is the job that carries out one claimed alert.
type DeadlineAlertArgs struct {
	RequestID  string `json:"request_id"`
	DeadlineID string `json:"deadline_id"`
	// Alert is warning or escalation.
	Alert string `json:"alert"`
}

// Kind names the job in River.
func (DeadlineAlertArgs) Kind() string { return "deadline_alert" }

// InsertOpts makes the job unique per alert; retries follow the bridge's
// backoff (60 attempts are about 4 h 24 min with retries capped at 5 min),
// and the watcher enqueues the alert again if River gives up. The default
// unique states (which include completed) are what is meant here: a
// completed alert job is a done alert, and must never run twice; discarded
// and cancelled jobs are not in them, so the watcher's redrive can insert.
func (DeadlineAlertArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: alertMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// alertMaxAttempts bounds one alert job; the watcher redrives a pending alert
// whose job River gave up.
const alertMaxAttempts = 60

// WatcherConfig tunes the watcher. Zero fields take the defaults.
type WatcherConfig struct {
	// Interval between runs (default 1m).
	Interval time.Duration
	// Batch bounds the requests handled per step and run (default 200).
	Batch int
	// RedriveAfter is how long a pending alert may go without an attempt
	// before it is enqueued again (default 30m).
	RedriveAfter time.Duration
}

func (c WatcherConfig) withDefaults() WatcherConfig {
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.RedriveAfter <= 0 {
		c.RedriveAfter = 30 * time.Minute
	}
	return c
}

// Watcher finds the requests near and past their deadlines.
type Watcher struct {
	b   *Bridge
	cfg WatcherConfig
}

// NewWatcher returns the bridge's watcher.
func (b *Bridge) NewWatcher(cfg WatcherConfig) *Watcher {
	return &Watcher{b: b, cfg: cfg.withDefaults()}
}

// WatchStats says what one run did.
type WatchStats struct {
	Recomputed int // requests whose deadlines were computed again
	Checked    int // requests with an alert due
	Warnings   int // warnings claimed
	Escalated  int // escalations claimed
	Fields     int // Échéance réponse values written
	Redriven   int // alerts enqueued again
}

// RunOnce is one run of the watcher at the bridge's clock.
func (w *Watcher) RunOnce(ctx context.Context) (WatchStats, error) { return w.runOnce(ctx) }

func (w *Watcher) runOnce(ctx context.Context) (WatchStats, error) {
	var st WatchStats
	b := w.b
	now := b.now()
	cfg := b.cfg.Holder.Get()
	rs, err := rulesFor(cfg)
	if err != nil {
		return st, err
	}
	var errs []error

	// 1. Histories changed since their last computation, or rules changed.
	stale, err := w.ids(ctx, `
		SELECT r.id::text FROM requests r LEFT JOIN request_deadlines s ON s.request_id = r.id
		WHERE s.request_id IS NULL OR s.computed_for IS DISTINCT FROM r.updated_at
		   OR (r.status <> 'closed' AND (s.rules_version <> $1
		       OR s.computed_msgs <> (SELECT count(*) FROM messages m WHERE m.request_id = r.id)))
		ORDER BY r.updated_at LIMIT $2`, rs.version, w.cfg.Batch)
	if err != nil {
		return st, err
	}
	for _, id := range stale {
		err := pgx.BeginFunc(ctx, b.cfg.Pool, func(tx pgx.Tx) error {
			_, err := b.refreshDeadlinesTx(ctx, tx, cfg, rs, id, false, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("computing the deadlines of request %s: %w", id, err))
			continue
		}
		st.Recomputed++
	}

	// 2. Alerts due.
	due, err := w.ids(ctx, `
		SELECT request_id::text FROM request_deadlines WHERE next_alert_at <= $1 ORDER BY next_alert_at LIMIT $2`, now, w.cfg.Batch)
	if err != nil {
		return st, err
	}
	for _, id := range due {
		st.Checked++
		var res deadlineResult
		err := pgx.BeginFunc(ctx, b.cfg.Pool, func(tx pgx.Tx) error {
			var err error
			res, err = b.refreshDeadlinesTx(ctx, tx, cfg, rs, id, true, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("claiming the alerts of request %s: %w", id, err))
			continue
		}
		for _, p := range res.claimed {
			log := b.log.WithFields(logrus.Fields{"request_id": id, "reference": res.req.Reference, "deadline_id": p.deadline.ID,
				"due": p.deadline.Due.Format(time.RFC3339)})
			switch {
			case p.skip:
				log.Info("deadline first seen past its due time: warning skipped")
			case p.kind == alertWarning:
				st.Warnings++
				log.Info("deadline near: warning claimed")
			default:
				st.Escalated++
				log.Warn("deadline passed: escalation claimed")
			}
		}
	}

	// 3. "Échéance réponse" values not written yet.
	if cfg.Redmine.CustomFields.ResponseDue > 0 {
		pending, err := w.ids(ctx, `
			SELECT s.request_id::text FROM request_deadlines s JOIN requests r ON r.id = s.request_id
			WHERE s.due_field IS DISTINCT FROM s.due_field_sent AND r.redmine_issue_id IS NOT NULL
			LIMIT $1`, w.cfg.Batch)
		if err != nil {
			return st, err
		}
		for _, id := range pending {
			if err := b.syncDueField(ctx, cfg, id); err != nil {
				errs = append(errs, err)
				continue
			}
			st.Fields++
		}
	}

	// 4. Alerts whose job River gave up on.
	rows, err := b.cfg.Pool.Query(ctx, `
		SELECT request_id::text, deadline_id, kind FROM deadline_alerts
		WHERE state = 'pending' AND updated_at < now() - make_interval(secs => $1) LIMIT $2`,
		w.cfg.RedriveAfter.Seconds(), w.cfg.Batch)
	if err != nil {
		return st, err
	}
	args, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadlineAlertArgs, error) {
		var a DeadlineAlertArgs
		err := r.Scan(&a.RequestID, &a.DeadlineID, &a.Alert)
		return a, err
	})
	if err != nil {
		return st, err
	}
	for _, a := range args {
		res, err := b.river.Insert(ctx, a, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !res.UniqueSkippedAsDuplicate {
			st.Redriven++
			b.log.WithFields(logrus.Fields{"request_id": a.RequestID, "deadline_id": a.DeadlineID, "kind": a.Alert}).
				Warn("deadline alert enqueued again after its job was given up")
		}
		_, _ = b.cfg.Pool.Exec(ctx, `UPDATE deadline_alerts SET updated_at = now() WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`,
			a.RequestID, a.DeadlineID, a.Alert)
	}
	return st, errors.Join(errs...)
}

func (w *Watcher) ids(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := w.b.cfg.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// registerDeadlineWorkers adds the deadline jobs' workers.
func (b *Bridge) registerDeadlineWorkers(workers *river.Workers) {
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[DeadlineWatchArgs]) error {
		st, err := b.NewWatcher(WatcherConfig{}).runOnce(ctx)
		if err != nil {
			b.log.WithError(err).Warn("deadline watcher run had errors")
		} else if st != (WatchStats{}) {
			b.log.WithFields(logrus.Fields{"recomputed": st.Recomputed, "warnings": st.Warnings, "escalations": st.Escalated,
				"fields": st.Fields, "redriven": st.Redriven}).Debug("deadline watcher run")
		}
		return err
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[DeadlineAlertArgs]) error {
		return b.runAlert(ctx, j.Args)
	}))
}

// deadlinePeriodicJobs returns the watcher's periodic job (every minute,
// enqueued by the elected leader only).
func (b *Bridge) deadlinePeriodicJobs() []*river.PeriodicJob {
	interval := WatcherConfig{}.withDefaults().Interval
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return DeadlineWatchArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "deadline_watch"})}
}

// alertRow is a deadline_alerts row as the alert job reads it.
type alertRow struct {
	target    string
	dueAt     time.Time
	state     string
	mailState string
	noteState string
}

// runAlert carries out one claimed alert, step by step (see the top of
// this file).
func (b *Bridge) runAlert(ctx context.Context, a DeadlineAlertArgs) error {
	var result error
	ok, err := b.withAlertLock(ctx, a, func() error {
		result = b.runAlertLocked(ctx, a)
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

func (b *Bridge) runAlertLocked(ctx context.Context, a DeadlineAlertArgs) error {
	var row alertRow
	err := b.cfg.Pool.QueryRow(ctx, `
		UPDATE deadline_alerts SET attempts = attempts + 1, updated_at = now()
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3
		RETURNING target, due_at, state, mail_state, note_state`, a.RequestID, a.DeadlineID, a.Alert).
		Scan(&row.target, &row.dueAt, &row.state, &row.mailState, &row.noteState)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("no alert %s/%s for request %s", a.DeadlineID, a.Alert, a.RequestID))
	}
	if err != nil {
		return err
	}
	if row.state != "pending" {
		return nil
	}
	cfg := b.cfg.Holder.Get()
	rs, err := rulesFor(cfg)
	if err != nil {
		return err
	}
	store := espaceclient.NewStore(b.cfg.Pool)
	req, err := store.RequestHistory(ctx, a.RequestID)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("request %s no longer exists", a.RequestID))
	}
	if err != nil {
		return err
	}
	log := b.log.WithFields(logrus.Fields{"request_id": req.ID, "reference": req.Reference, "deadline_id": a.DeadlineID, "kind": a.Alert})
	now := b.now()
	rd := rs.compute(req)
	var d sla.Deadline
	found := false
	for _, x := range rd.Deadlines {
		if x.ID == a.DeadlineID {
			d, found = x, true
		}
	}
	nothingDone := row.mailState == "pending" && (row.noteState == "pending" || row.noteState == "none")
	if !found || d.State != sla.Running {
		if nothingDone {
			log.Info("deadline met or stopped before its alert went out: alert cancelled")
			return b.finishAlert(ctx, a, "cancelled", "")
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
		is, err := b.rm.GetIssue(ctx, *req.RedmineIssueID, "journals")
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
	if row.mailState == "pending" {
		state, to, msgID, err := b.sendAlertMail(ctx, log, cfg, rs, req, d, a.Alert, issue, now)
		if err == nil {
			_, err = b.cfg.Pool.Exec(ctx, `
				UPDATE deadline_alerts SET mail_state = $4, mail_to = $5, mail_message_id = $6,
					mail_sent_at = CASE WHEN $4 = 'sent' THEN now() END, updated_at = now()
				WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, a.Alert, state, to, msgID)
		}
		stepErr = err
	}
	if a.Alert == alertEscalation && row.noteState == "pending" {
		state, jid, err := b.writeEscalationNote(ctx, log, cfg, rs, req, d, issue, issueErr, now)
		if err == nil {
			_, err = b.cfg.Pool.Exec(ctx, `
				UPDATE deadline_alerts SET note_state = $4, note_journal_id = $5, updated_at = now()
				WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, a.Alert, state, jid)
		}
		if err != nil && (stepErr == nil || isSnooze(stepErr)) {
			stepErr = err
		}
	}
	if stepErr != nil {
		b.alertError(ctx, a, stepErr)
		return stepErr // retried with backoff
	}
	return b.finishAlert(ctx, a, "done", "")
}

func isSnooze(err error) bool {
	var snooze *rivertype.JobSnoozeError
	return errors.As(err, &snooze)
}

func (b *Bridge) finishAlert(ctx context.Context, a DeadlineAlertArgs, state, lastError string) error {
	_, err := b.cfg.Pool.Exec(ctx, `
		UPDATE deadline_alerts SET state = $4, done_at = now(), updated_at = now(),
			last_error = CASE WHEN $5 = '' THEN last_error ELSE $5 END
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, a.Alert, state, lastError)
	return err
}

func (b *Bridge) alertError(ctx context.Context, a DeadlineAlertArgs, err error) {
	if isSnooze(err) {
		return
	}
	_, _ = b.cfg.Pool.Exec(ctx, `UPDATE deadline_alerts SET last_error = $4, updated_at = now()
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, a.Alert, err.Error())
}

// withAlertLock keeps two workers off the same alert (a job rescued while
// the first attempt still runs).
func (b *Bridge) withAlertLock(ctx context.Context, a DeadlineAlertArgs, fn func() error) (bool, error) {
	conn, err := b.cfg.Pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	key := a.RequestID + "|" + a.DeadlineID + "|" + a.Alert
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(7412, hashtext($1))`, key).Scan(&got); err != nil {
		return false, err
	}
	if !got {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(7412, hashtext($1))`, key); err != nil {
			conn.Conn().Close(uctx)
		}
	}()
	return true, fn()
}

// sendAlertMail sends the warning or escalation e-mail. It returns the
// mail state to record (sent, none, disabled, failed), the recipients and
// the Message-ID; an error only when a retry may succeed.
func (b *Bridge) sendAlertMail(ctx context.Context, log *logrus.Entry, cfg *config.Config, rs *rules, req espaceclient.Request,
	d sla.Deadline, kind string, issue *redmine.Issue, now time.Time) (string, []string, string, error) {
	mailer, err := mailerFor(cfg)
	if errors.Is(err, notify.ErrDisabled) {
		log.Warn("e-mail disabled (smtp.addr empty): deadline alert not e-mailed")
		return "disabled", []string{}, "", nil
	}
	if err != nil {
		log.WithError(err).Error("smtp configuration")
		return "failed", []string{}, "", nil
	}
	assigneeID, assigneeName := 0, ""
	if issue != nil && issue.AssignedTo != nil {
		assigneeID, assigneeName = issue.AssignedTo.ID, issue.AssignedTo.Name
	} else if cat, ok := cfg.Category(req.Category); ok && issue == nil {
		assigneeID, assigneeName = cat.Redmine.Assignee.ID(), cat.Redmine.Assignee.Name
	}
	to := b.recipientsOf(ctx, cfg, assigneeID)
	var cc []string
	if kind == alertEscalation {
		cc = without(cfg.Deadlines.Escalation.Cc, to)
	}
	if len(to) == 0 && len(cc) == 0 {
		log.WithField("assignee_id", assigneeID).Warn("no e-mail address for this assignee: set deadlines.recipients or deadlines.default_recipients")
		return "none", []string{}, "", nil
	}
	data := alertData(cfg, rs, req, d, kind, issue, assigneeName, now)
	r, err := notify.RenderDeadlineAlert(data)
	if err != nil {
		return "failed", []string{}, "", nil
	}
	msgID := notify.StableMessageID(mailer.Domain(), req.ID, d.ID, kind)
	retry, err := mailer.Notify(ctx, notify.Message{
		To: to, Cc: cc, Subject: r.Subject, Text: r.Text, HTML: r.HTML, MessageID: msgID,
		Headers: map[string]string{"X-Passerelle-Reference": req.Reference, "X-Passerelle-Alert": kind},
	})
	all := append(append([]string{}, to...), cc...)
	if err != nil && retry {
		log.WithError(err).Warn("deadline alert e-mail not sent; will retry")
		return "", nil, "", err
	}
	if err != nil {
		log.WithError(err).Error("deadline alert e-mail refused for good")
		return "failed", all, msgID, nil
	}
	log.WithField("to", strings.Join(all, ", ")).Info("deadline alert e-mailed")
	return "sent", all, msgID, nil
}

func without(list, drop []string) []string {
	var out []string
	for _, x := range list {
		keep := true
		for _, y := range drop {
			if strings.EqualFold(x, y) {
				keep = false
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// recipientsOf returns the addresses alerts about an issue assigned to a
// Redmine principal go to: its deadlines.recipients entry; else, for a user
// whose e-mail address Redmine shows (not hidden in their preferences), that
// address; else deadlines.default_recipients.
func (b *Bridge) recipientsOf(ctx context.Context, cfg *config.Config, principalID int) []string {
	if to, ok := cfg.Deadlines.RecipientsOf(principalID); ok {
		return to
	}
	if principalID != 0 && !isConfiguredGroup(cfg, principalID) {
		if u, err := b.rm.User(ctx, principalID); err == nil && u.Mail != "" {
			return []string{u.Mail}
		}
	}
	return cfg.Deadlines.DefaultRecipients
}

// isConfiguredGroup tells whether a principal is a group some category
// assigns to (Redmine answers 404 for a group read as a user).
func isConfiguredGroup(cfg *config.Config, id int) bool {
	for _, c := range cfg.Categories {
		if c.Redmine.Assignee.Group == id {
			return true
		}
	}
	return false
}

// alertData fills an alert e-mail.
func alertData(cfg *config.Config, rs *rules, req espaceclient.Request, d sla.Deadline, kind string,
	issue *redmine.Issue, assignee string, now time.Time) notify.DeadlineAlert {
	a := notify.DeadlineAlert{
		Kind: kind, Agency: "Passerelle", Reference: req.Reference, Subject: req.Subject,
		Role: espaceclient.RoleLabel(req.AuthorRole), Client: req.AuthorName, Assignee: assignee,
		Target: TargetLabel(d.Target), Limit: d.Limit.Within.String(), Rule: d.Limit.Rule,
		Action: targetAction(d.Target), Category: req.Category,
	}
	if cat, ok := cfg.Category(req.Category); ok {
		a.Category = cat.Label
	}
	if req.Urgency != "" {
		a.Urgency = strings.ToLower(espaceclient.UrgencyLabel(req.Urgency))
	}
	if issue != nil {
		a.IssueID = issue.ID
		a.IssueURL = strings.TrimRight(cfg.Redmine.URL, "/") + fmt.Sprintf("/issues/%d", issue.ID)
	} else if req.RedmineIssueID != nil {
		a.IssueID = *req.RedmineIssueID
		a.IssueURL = strings.TrimRight(cfg.Redmine.URL, "/") + fmt.Sprintf("/issues/%d", *req.RedmineIssueID)
	}
	if !d.Start.IsZero() {
		a.Started = rs.cal.FormatDue(d.Start)
	}
	if !d.Due.IsZero() {
		a.Due = rs.cal.FormatDue(d.Due)
	}
	if d.Allowed > 0 {
		p := d.Progress(now)
		a.Used = fmt.Sprintf("%d %%", int(p*100+0.5))
		if p > 1 {
			a.Late = formatCounted(time.Duration((p-1)*float64(d.Allowed)), d.Limit.Within.Clock)
		}
	}
	return a
}

// formatCounted writes a counted duration: "2 h 30 ouvrées", "3 j 4 h".
func formatCounted(x time.Duration, clock config.Clock) string {
	x = x.Round(time.Minute)
	h, m := int(x/time.Hour), int(x%time.Hour/time.Minute)
	var s string
	switch {
	case h == 0:
		s = fmt.Sprintf("%d min", m)
	case m == 0:
		s = fmt.Sprintf("%d h", h)
	default:
		s = fmt.Sprintf("%d h %02d", h, m)
	}
	if clock != config.ClockCalendar {
		s += " ouvrées"
	}
	return s
}

// EscalationMarker is written at the end of every escalation note: finding
// it in a journal of the sync user tells a retry the note exists.
func EscalationMarker(deadlineID string) string {
	return "Réf. alerte Passerelle : " + deadlineID
}

// EscalationNote is the private note written on an issue whose deadline
// passed: what is late, since when, and how to stop the alert.
func EscalationNote(cal *sla.Calendar, req espaceclient.Request, d sla.Deadline, now time.Time) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*Échéance dépassée : %s*\n\n", TargetLabel(d.Target))
	fmt.Fprintf(&sb, "La demande %s (%s, %s) attend %s depuis le %s.\n", req.Reference, inlineText(req.AuthorName),
		espaceclient.RoleLabel(req.AuthorRole), TargetLabel(d.Target), cal.FormatDue(d.Start))
	fmt.Fprintf(&sb, "Délai : %s (%s).\n", d.Limit.Within, d.Limit.Rule)
	fmt.Fprintf(&sb, "En retard depuis le %s", cal.FormatDue(d.Due))
	if d.Allowed > 0 {
		if p := d.Progress(now); p > 1 {
			fmt.Fprintf(&sb, " (dépassement constaté : %s)", formatCounted(time.Duration((p-1)*float64(d.Allowed)), d.Limit.Within.Clock))
		}
	}
	fmt.Fprintf(&sb, ".\n\nPour arrêter l'alerte : %s.\n\n_%s_", targetAction(d.Target), EscalationMarker(d.ID))
	return sb.String()
}

// writeEscalationNote writes the private note (and raises the priority),
// exactly once. It returns the note state to record (written, none,
// refused) and the journal id; an error when a retry may succeed.
func (b *Bridge) writeEscalationNote(ctx context.Context, log *logrus.Entry, cfg *config.Config, rs *rules, req espaceclient.Request,
	d sla.Deadline, issue *redmine.Issue, issueErr error, now time.Time) (string, *int, error) {
	if !cfg.Deadlines.Escalation.WritesNote() {
		return "none", nil, nil
	}
	if req.RedmineIssueID == nil {
		if req.MirrorError != "" {
			return "none", nil, nil // never mirrored: `passerelle check --live` reports it
		}
		// The issue is being created. A plain error, not a snooze: a snooze
		// does not count as an attempt, and would wait for ever on a
		// request that never reaches Redmine.
		return "", nil, errors.New("the request is not in Redmine yet: the escalation note waits for its issue")
	}
	if issueErr != nil {
		if redmine.IsNotFound(issueErr) {
			log.WithError(issueErr).Warn("issue gone: no escalation note")
			return "none", nil, nil
		}
		return "", nil, issueErr
	}
	dir, err := b.directory(ctx)
	if err != nil {
		return "", nil, err
	}
	if jid := findEscalationJournal(*issue, dir.Me.ID, d.ID); jid != 0 {
		log.WithField("journal_id", jid).Info("escalation note already in Redmine from an earlier attempt")
		return "written", &jid, nil
	}
	allowed, err := b.canSetNotesPrivate(ctx, issue.Project.ID)
	if err != nil {
		return "", nil, fmt.Errorf("checking the sync user's permissions: %w", err)
	}
	if !allowed {
		log.WithField("project_id", issue.Project.ID).Error("the sync user may not make notes private (permission set_notes_private): no escalation note written, rather than a public one")
		return "refused", nil, nil
	}
	up := redmine.IssueUpdate{Notes: EscalationNote(rs.cal, req, d, now), PrivateNotes: true}
	if name := cfg.Deadlines.Escalation.RaisePriorityTo; name != "" {
		up.PriorityID = b.raisedPriority(ctx, log, name, issue.Priority.ID)
	}
	if err := b.rm.UpdateIssue(ctx, issue.ID, up); err != nil {
		if redmine.IsPermanent(err) {
			// Retrying cannot fix it: the alert ends with the e-mail alone.
			log.WithError(err).Error("Redmine refused the escalation note")
			return "none", nil, nil
		}
		return "", nil, err
	}
	again, err := b.rm.GetIssue(ctx, issue.ID, "journals")
	if err != nil {
		return "", nil, err // the retry finds the note by its marker
	}
	jid := findEscalationJournal(again, dir.Me.ID, d.ID)
	if jid == 0 {
		return "", nil, fmt.Errorf("escalation note on issue %d not found after writing it", issue.ID)
	}
	for _, j := range again.Journals {
		if j.ID == jid && !j.PrivateNotes {
			log.WithField("journal_id", jid).Error("Redmine made the escalation note public: check the sync role's set_notes_private permission")
		}
	}
	log.WithFields(logrus.Fields{"issue_id": issue.ID, "journal_id": jid, "priority_id": up.PriorityID}).Warn("deadline escalated in Redmine")
	return "written", &jid, nil
}

func findEscalationJournal(is redmine.Issue, syncUserID int, deadlineID string) int {
	marker := EscalationMarker(deadlineID)
	for _, j := range is.Journals {
		// The marker counts only as the note's last line: a client's follow-up
		// (also written by the sync user) may quote it, and deadline ids are
		// predictable (hasTrailingMarker, markup.go).
		if j.User.ID == syncUserID && hasTrailingMarker(j.Notes, marker) {
			return j.ID
		}
	}
	return 0
}

// raisedPriority returns the id of the priority to raise an issue to, 0 to
// leave it (already as high, or the name unknown).
func (b *Bridge) raisedPriority(ctx context.Context, log *logrus.Entry, name string, current int) int {
	prios, err := b.rm.Priorities(ctx)
	if err != nil {
		log.WithError(err).Warn("listing priorities: priority not raised")
		return 0
	}
	target, cur := -1, -1
	for i, p := range prios {
		if strings.EqualFold(p.Name, name) {
			target = i
		}
		if p.ID == current {
			cur = i
		}
	}
	if target < 0 {
		log.WithField("priority", name).Error("deadlines.escalation.raise_priority_to names no Redmine priority")
		return 0
	}
	if cur >= target {
		return 0
	}
	return prios[target].ID
}

// Private-note permission, per Redmine client and project, cached 10 minutes.
type permKey struct {
	rm      *redmine.Client
	project int
}

var (
	permMu    sync.Mutex
	permCache = map[permKey]struct {
		ok bool
		at time.Time
	}{}
)

func (b *Bridge) canSetNotesPrivate(ctx context.Context, projectID int) (bool, error) {
	k := permKey{b.rm, projectID}
	permMu.Lock()
	e, ok := permCache[k]
	permMu.Unlock()
	if ok && time.Since(e.at) < 10*time.Minute {
		return e.ok, nil
	}
	allowed, err := b.rm.HasPermission(ctx, projectID, "set_notes_private")
	if err != nil {
		return false, err
	}
	permMu.Lock()
	permCache[k] = struct {
		ok bool
		at time.Time
	}{allowed, time.Now()}
	permMu.Unlock()
	return allowed, nil
}

// mailerFor builds the mailer of a configuration once.
var (
	mailerMu   sync.Mutex
	mailerCfg  *config.Config
	mailerLast *notify.Mailer
	mailerErr  error
)

func mailerFor(cfg *config.Config) (*notify.Mailer, error) {
	mailerMu.Lock()
	defer mailerMu.Unlock()
	if mailerCfg != cfg {
		mailerLast, mailerErr = notify.NewMailer(cfg.SMTP)
		mailerCfg = cfg
	}
	return mailerLast, mailerErr
}
