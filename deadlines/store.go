package deadlines

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/database"
	"passerelle/redmine"
)

// This file holds every SQL statement of the package: the tables
// request_deadlines (a request's computed deadlines and its "Échéance
// réponse" field) and deadline_alerts (one row per claimed alert), and the
// reads of the customer space's requests and messages the watcher needs.
// The request rows themselves are locked, read and updated through
// espaceclient (LockRequestHistory, SetDueAt).

// Querier runs a query: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// execer runs a statement: a pool, a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// store is the package's access to PostgreSQL.
type store struct{ pool *pgxpool.Pool }

// saveRequestDeadlines stores a computation's request_deadlines row.
func saveRequestDeadlines(ctx context.Context, tx pgx.Tx, requestID string, computedFor time.Time, msgs int,
	rulesVersion string, nextAlert *time.Time, dueField string) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO request_deadlines (request_id, computed_for, computed_msgs, rules_version, next_alert_at, due_field)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (request_id) DO UPDATE SET computed_for = EXCLUDED.computed_for, computed_msgs = EXCLUDED.computed_msgs,
			rules_version = EXCLUDED.rules_version, next_alert_at = EXCLUDED.next_alert_at, due_field = EXCLUDED.due_field,
			computed_at = now()`,
		requestID, computedFor, msgs, rulesVersion, nextAlert, dueField)
	if err != nil {
		return err
	}
	// The same markers on the request row, where the partial index
	// requests_deadlines_stale_idx finds the requests whose history moved
	// since (migration 00070): it does not touch updated_at.
	_, err = tx.Exec(ctx, `UPDATE requests SET deadlines_for = $2, deadlines_msgs = $3 WHERE id = $1`, requestID, computedFor, msgs)
	return err
}

// recordDueFieldSent records the "Échéance réponse" value the issue holds.
func recordDueFieldSent(ctx context.Context, q execer, requestID, value string) error {
	_, err := q.Exec(ctx, `UPDATE request_deadlines SET due_field_sent = $2 WHERE request_id = $1`, requestID, value)
	return err
}

// lockDueField takes the transaction-level lock that orders the writers of
// a request's "Échéance réponse" field.
func lockDueField(ctx context.Context, tx pgx.Tx, requestID string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($2, hashtext($1))`, requestID, database.LockDueField); err != nil {
		return fmt.Errorf("locking the due field of request %s: %w", requestID, err)
	}
	return nil
}

// dueFieldRow is what syncDueField reads: the value wanted, the one last
// written, and the request's issue.
type dueFieldRow struct {
	want      string
	sent      *string
	issueID   *redmine.IssueID
	reference string
}

// readDueField reads a request's due field state; found is false when the
// request has no computed deadlines.
func readDueField(ctx context.Context, tx pgx.Tx, requestID string) (row dueFieldRow, found bool, err error) {
	err = tx.QueryRow(ctx, `
		SELECT s.due_field, s.due_field_sent, r.redmine_issue_id, r.reference
		FROM request_deadlines s JOIN requests r ON r.id = s.request_id WHERE s.request_id = $1`, requestID).
		Scan(&row.want, &row.sent, &row.issueID, &row.reference)
	if errors.Is(err, pgx.ErrNoRows) {
		return row, false, nil
	}
	if err != nil {
		return row, false, fmt.Errorf("reading the due field of request %s: %w", requestID, err)
	}
	return row, true, nil
}

// claimedAlerts returns the alerts already claimed for a request.
func claimedAlerts(ctx context.Context, q Querier, requestID string) (map[alertKey]bool, error) {
	rows, err := q.Query(ctx, `SELECT deadline_id, kind FROM deadline_alerts WHERE request_id = $1`, requestID)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer rows.Close()
	out := map[alertKey]bool{}
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return nil, fmt.Errorf("reading alerts: %w", err)
		}
		out[alertKey{id, AlertKind(kind)}] = true
	}
	return out, rows.Err()
}

// insertAlert claims one alert; false when it was already claimed.
func insertAlert(ctx context.Context, tx pgx.Tx, requestID string, p alertPlan, now time.Time) (bool, error) {
	state, mail, note := p.claimStates()
	tag, err := tx.Exec(ctx, `
		INSERT INTO deadline_alerts (request_id, deadline_id, kind, target, due_at, threshold_at, state, mail_state, note_state, claimed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`,
		requestID, p.deadline.ID, string(p.kind), string(p.deadline.Target), p.deadline.Due, p.threshold(),
		string(state), string(mail), string(note), now)
	if err != nil {
		return false, fmt.Errorf("claiming the %s of %s: %w", p.kind, p.deadline.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeadlineAlerts lists a request's warnings and escalations, oldest first.
func DeadlineAlerts(ctx context.Context, q Querier, requestID string) ([]AlertRecord, error) {
	rows, err := q.Query(ctx, `
		SELECT deadline_id, kind, target, state, mail_state, mail_to, mail_sent_at, note_state, note_journal_id,
			claimed_at, done_at, attempts, last_error
		FROM deadline_alerts WHERE request_id = $1 ORDER BY claimed_at, created_at, kind DESC`, requestID)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertRecord
	for rows.Next() {
		var a AlertRecord
		var kind, state, mail, note string
		if err := rows.Scan(&a.DeadlineID, &kind, &a.Target, &state, &mail, &a.MailTo, &a.MailSentAt,
			&note, &a.NoteJournalID, &a.ClaimedAt, &a.DoneAt, &a.Attempts, &a.LastError); err != nil {
			return nil, fmt.Errorf("reading alerts: %w", err)
		}
		a.Kind, a.State, a.MailState, a.NoteState = AlertKind(kind), AlertState(state), MailState(mail), NoteState(note)
		out = append(out, a)
	}
	return out, rows.Err()
}

// staleRequests lists the requests whose history changed since their last
// computation (requests.updated_at moved, or the thread has another number
// of messages), or whose rules changed, oldest change first.
//
// Two index scans, each empty in the steady state (migration 00070): the
// partial index requests_deadlines_stale_idx holds exactly the requests
// whose markers (deadlines_for, deadlines_msgs, copied there by
// saveRequestDeadlines) differ from their row (updated_at, message_count,
// kept by a trigger on messages) — the WHERE below repeats its predicate so
// the planner uses it; request_deadlines_rules_idx gives the requests
// computed with other rules as two ranges around the current version. A
// request never computed has deadlines_for NULL: in the first set.
func (s store) staleRequests(ctx context.Context, rulesVersion string, limit int) ([]string, error) {
	return s.ids(ctx, "listing the requests to compute again", StaleRequestsSQL, rulesVersion, limit)
}

// The queries a watcher run makes when nothing is due, exported so that
// bench/ EXPLAINs the very text the watcher runs.
const (
	// StaleRequestsSQL: $1 the rules version in force, $2 the batch size.
	StaleRequestsSQL = `
		SELECT id::text FROM (
		    (SELECT r.id, r.updated_at FROM requests r
		      WHERE r.deadlines_for IS DISTINCT FROM r.updated_at
		         OR (r.status <> 'closed' AND r.deadlines_msgs IS DISTINCT FROM r.message_count)
		      ORDER BY r.updated_at LIMIT $2)
		    UNION
		    (SELECT r.id, r.updated_at FROM request_deadlines s JOIN requests r ON r.id = s.request_id
		      WHERE (s.rules_version < $1 OR s.rules_version > $1) AND r.status <> 'closed'
		      ORDER BY r.updated_at LIMIT $2)
		) stale ORDER BY updated_at LIMIT $2`
	// AlertsDueSQL: $1 now, $2 the batch size.
	AlertsDueSQL = `
		SELECT request_id::text FROM request_deadlines WHERE next_alert_at <= $1 ORDER BY next_alert_at LIMIT $2`
	// PendingDueFieldsSQL: $1 the batch size. due_field_pending is the
	// generated column "due_field IS DISTINCT FROM due_field_sent" (migration
	// 00070), indexed where true.
	PendingDueFieldsSQL = `
		SELECT s.request_id::text FROM request_deadlines s JOIN requests r ON r.id = s.request_id
		WHERE s.due_field_pending AND r.redmine_issue_id IS NOT NULL
		LIMIT $1`
	// AbandonedAlertsSQL: $1 seconds without an attempt, $2 the batch size.
	AbandonedAlertsSQL = `
		SELECT request_id::text, deadline_id, kind FROM deadline_alerts
		WHERE state = 'pending' AND updated_at < now() - make_interval(secs => $1) LIMIT $2`
)

// requestsWithAlertDue lists the requests with an alert due at now.
func (s store) requestsWithAlertDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.ids(ctx, "listing the requests with an alert due", AlertsDueSQL, now, limit)
}

// pendingDueFields lists the requests whose "Échéance réponse" value did
// not reach their issue yet.
func (s store) pendingDueFields(ctx context.Context, limit int) ([]string, error) {
	return s.ids(ctx, "listing the due fields to write", PendingDueFieldsSQL, limit)
}

func (s store) ids(ctx context.Context, what, sql string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("watcher: %s: %w", what, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("watcher: %s: %w", what, err)
	}
	return ids, nil
}

// abandonedAlerts lists the pending alerts with no attempt for after: their
// job was given up (a long outage).
func (s store) abandonedAlerts(ctx context.Context, after time.Duration, limit int) ([]AlertArgs, error) {
	rows, err := s.pool.Query(ctx, AbandonedAlertsSQL, after.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("watcher: listing the alerts to enqueue again: %w", err)
	}
	args, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertArgs, error) {
		var a AlertArgs
		var kind string
		err := r.Scan(&a.RequestID, &a.DeadlineID, &kind)
		a.Alert = AlertKind(kind)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("watcher: listing the alerts to enqueue again: %w", err)
	}
	return args, nil
}

// touchAlert marks an alert as just attempted (so it is not redriven again
// at once).
func (s store) touchAlert(ctx context.Context, a AlertArgs) error {
	_, err := s.pool.Exec(ctx, `UPDATE deadline_alerts SET updated_at = now() WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`,
		a.RequestID, a.DeadlineID, string(a.Alert))
	return err
}

// alertRow is a deadline_alerts row as the alert job reads it.
type alertRow struct {
	target    string
	dueAt     time.Time
	state     AlertState
	mailState MailState
	noteState NoteState
}

// startAttempt counts one attempt of an alert and returns its row; found is
// false when there is no such alert.
func (s store) startAttempt(ctx context.Context, a AlertArgs) (row alertRow, found bool, err error) {
	var state, mail, note string
	err = s.pool.QueryRow(ctx, `
		UPDATE deadline_alerts SET attempts = attempts + 1, updated_at = now()
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3
		RETURNING target, due_at, state, mail_state, note_state`, a.RequestID, a.DeadlineID, string(a.Alert)).
		Scan(&row.target, &row.dueAt, &state, &mail, &note)
	if errors.Is(err, pgx.ErrNoRows) {
		return row, false, nil
	}
	if err != nil {
		return row, false, fmt.Errorf("reading the alert %s/%s: %w", a.DeadlineID, a.Alert, err)
	}
	row.state, row.mailState, row.noteState = AlertState(state), MailState(mail), NoteState(note)
	return row, true, nil
}

// recordMail records the outcome of an alert's e-mail.
func (s store) recordMail(ctx context.Context, a AlertArgs, state MailState, to []string, messageID string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE deadline_alerts SET mail_state = $4, mail_to = $5, mail_message_id = $6,
			mail_sent_at = CASE WHEN $4 = 'sent' THEN now() END, updated_at = now()
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, string(a.Alert), string(state), to, messageID)
	if err != nil {
		return fmt.Errorf("recording the e-mail of %s/%s: %w", a.DeadlineID, a.Alert, err)
	}
	return nil
}

// recordNote records the outcome of an escalation's note.
func (s store) recordNote(ctx context.Context, a AlertArgs, state NoteState, journalID *redmine.JournalID) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE deadline_alerts SET note_state = $4, note_journal_id = $5, updated_at = now()
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, string(a.Alert), string(state), journalID)
	if err != nil {
		return fmt.Errorf("recording the note of %s/%s: %w", a.DeadlineID, a.Alert, err)
	}
	return nil
}

// finishAlert ends an alert (done or cancelled), keeping its last error
// unless lastError is set.
func (s store) finishAlert(ctx context.Context, a AlertArgs, state AlertState, lastError string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE deadline_alerts SET state = $4, done_at = now(), updated_at = now(),
			last_error = CASE WHEN $5 = '' THEN last_error ELSE $5 END
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, string(a.Alert), string(state), lastError)
	return err
}

// recordAlertError records why an attempt failed.
func (s store) recordAlertError(ctx context.Context, a AlertArgs, msg string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deadline_alerts SET last_error = $4, updated_at = now()
		WHERE request_id = $1 AND deadline_id = $2 AND kind = $3`, a.RequestID, a.DeadlineID, string(a.Alert), msg)
	return err
}

// withAlertLock runs fn while holding a session advisory lock on an alert,
// so two workers (a job rescued while the first attempt still runs) never
// carry out the same alert at once. ok is false when another holder has it.
func (s store) withAlertLock(ctx context.Context, a AlertArgs, fn func() error) (bool, error) {
	key := a.RequestID + "|" + a.DeadlineID + "|" + string(a.Alert)
	return database.WithSessionLock(ctx, s.pool, database.LockDeadlineAlert, key, fn)
}
