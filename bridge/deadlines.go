package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"passerelle/bridge/sla"
	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// This file computes each request's response deadlines from its history
// (bridge/sla does the arithmetic) and stores the result:
//   - requests.due_at: the next running first-answer due time, which clients
//     see ("Réponse attendue avant le mardi 24 novembre à 18 h") and which is
//     indexed;
//   - request_deadlines: when the next warning or escalation falls due, and the
//     "Échéance réponse" value wanted on the Redmine issue and the one last
//     written there.
//
// When it is computed: in the transaction that stores a new request (the
// outbox), after the request's issue is created, after a client follow-up
// is mirrored, after a refresh from Redmine; and, as a safety net, by the
// watcher for every request whose history changed since its last
// computation (requests.updated_at moved, or the thread has another number
// of messages) or whose rules changed (a configuration reload). The computation locks the request row, reads the
// history and stores the result in one transaction, so the stored values
// always follow from one consistent history.

// RequestDeadlines is a request's deadlines as computed from its history.
type RequestDeadlines struct {
	Calendar  *sla.Calendar
	Policy    sla.Policy
	Events    []sla.Event
	Deadlines []sla.Deadline
}

// NextAnswer returns the running first-answer deadline due first: what
// clients are told and what requests.due_at holds.
func (rd RequestDeadlines) NextAnswer() (sla.Deadline, bool) {
	return sla.Next(rd.Deadlines, sla.FirstAnswer)
}

// DueAt is NextAnswer's due time, nil when no answer is awaited.
func (rd RequestDeadlines) DueAt() *time.Time {
	if d, ok := rd.NextAnswer(); ok {
		t := d.Due
		return &t
	}
	return nil
}

// ComputeRequestDeadlines computes a request's deadlines from its history
// (req.Messages, in thread order) under the configuration's calendar and
// policies.
func ComputeRequestDeadlines(cfg *config.Config, req espaceclient.Request) (RequestDeadlines, error) {
	st, err := rulesFor(cfg)
	if err != nil {
		return RequestDeadlines{}, err
	}
	return st.compute(req), nil
}

// HistoryEvents turns a request's thread into the events deadlines are
// computed from:
//   - the filing (Created, "req:ID"), which the request's first client message
//     is part of;
//   - every later client message (ClientMessage);
//   - every staff public note (StaffPublicNote); private notes never reach
//     the thread, and the automatic acknowledgment and the documents staff
//     add without a note are system messages, which answer nothing;
//   - every status change from Redmine (StatusChange, with its client
//     status), the client's closing (closed) and a reopening by the client's
//     message (in_progress).
//
// Event ids are "msg:" and the message id, so deadline ids are stable.
//
// Redmine dates its journals to the second: a staff note written within the
// second the request was filed carries an earlier instant than the filing.
// No event is dated before the filing: such an event is moved to it (after
// it, the events keeping their thread order).
func HistoryEvents(req espaceclient.Request) []sla.Event {
	evs := []sla.Event{{Kind: sla.Created, At: req.CreatedAt, ID: "req:" + req.ID}}
	firstSeen := false
	for _, m := range req.Messages {
		e := sla.Event{At: m.CreatedAt, ID: "msg:" + m.ID}
		if e.At.Before(req.CreatedAt) {
			e.At = req.CreatedAt
		}
		switch {
		case m.AuthorKind == espaceclient.AuthorClient && m.Kind == espaceclient.KindMessage:
			if !firstSeen {
				firstSeen = true // the request's own text: the filing
				continue
			}
			e.Kind = sla.ClientMessage
		case m.AuthorKind == espaceclient.AuthorStaff && m.Kind == espaceclient.KindMessage:
			e.Kind = sla.StaffPublicNote
		case m.Kind == espaceclient.KindStatus && m.ClientStatus != "":
			e.Kind, e.Status = sla.StatusChange, m.ClientStatus
		case m.Kind == espaceclient.KindClosed:
			e.Kind, e.Status = sla.StatusChange, config.StatusClosed
		case m.Kind == espaceclient.KindReopened:
			e.Kind, e.Status = sla.StatusChange, config.StatusInProgress
		default:
			continue
		}
		evs = append(evs, e)
	}
	return evs
}

// DueLabel is what clients read about a due time: "Réponse attendue avant le
// mardi 24 novembre à 18 h", in the agency's time zone.
func DueLabel(cfg *config.Config, t time.Time) string {
	st, err := rulesFor(cfg)
	if err != nil {
		return ""
	}
	return "Réponse attendue avant le " + st.cal.FormatDue(t)
}

// TargetLabel says in French what a deadline waits for.
func TargetLabel(t sla.Target) string {
	switch t {
	case sla.FirstAnswer:
		return "la première réponse au client"
	case sla.Action:
		return "la première action significative"
	case sla.Resolution:
		return "la résolution (clôture)"
	}
	return string(t)
}

// targetAction says how staff stop a deadline's clock.
func targetAction(t sla.Target) string {
	if t == sla.Resolution {
		return "traiter la demande puis la passer dans un statut clôturé dans Redmine"
	}
	return "répondre au client par une note publique dans Redmine (les notes privées ne comptent pas)"
}

// rules are a configuration's calendar and policies, built once per
// configuration (the Holder returns the same *Config until a reload).
type rules struct {
	cfg      *config.Config
	cal      *sla.Calendar
	policies *sla.Policies
	version  string
}

var (
	rulesMu   sync.Mutex
	rulesLast *rules
)

func rulesFor(cfg *config.Config) (*rules, error) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if rulesLast != nil && rulesLast.cfg == cfg {
		return rulesLast, nil
	}
	cal, err := sla.NewCalendar(cfg.Calendar)
	if err != nil {
		return nil, err
	}
	ps, err := sla.NewPolicies(cfg)
	if err != nil {
		return nil, err
	}
	// The fingerprint covers everything a computation reads from the
	// configuration, so a reload that changes none of it recomputes nothing.
	b, err := json.Marshal(struct {
		Calendar config.Calendar
		WarnAt   string
		Policies []config.DeadlinePolicy
		DueField int
		Zone     string
	}{cfg.Calendar, cfg.Deadlines.WarnAt, cfg.DeadlinePolicies(), cfg.Redmine.CustomFields.ResponseDue, cfg.Calendar.TimeZone})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	rulesLast = &rules{cfg: cfg, cal: cal, policies: ps, version: hex.EncodeToString(sum[:8])}
	return rulesLast, nil
}

func (r *rules) compute(req espaceclient.Request) RequestDeadlines {
	p := r.policies.For(req.Category, req.AuthorRole, req.Urgency)
	evs := HistoryEvents(req)
	return RequestDeadlines{Calendar: r.cal, Policy: p, Events: evs, Deadlines: sla.Compute(evs, p, r.cal)}
}

// dueField is the "Échéance réponse" value for a due time ("" clears it).
func dueField(cfg *config.Config, due *time.Time) string {
	if due == nil {
		return ""
	}
	return FormatDueForStaff(*due, cfg)
}

// Alert kinds, as stored in deadline_alerts.
const (
	alertWarning    = "warning"
	alertEscalation = "escalation"
)

type alertKey struct{ deadlineID, kind string }

// alertPlan is an alert the watcher claims now.
type alertPlan struct {
	deadline sla.Deadline
	kind     string
	// skip records a warning that comes too late (its escalation is claimed
	// at the same time): it is marked skipped and never sent.
	skip bool
}

// planAlerts returns the alerts due at now and not claimed yet. For each
// running deadline: past its due time, the escalation (and, when the
// warning was never claimed, a skipped warning: warning after the fact is
// noise); else past its warning time, the warning. Paused, met and stopped
// deadlines are never alerted.
func planAlerts(ds []sla.Deadline, claimed map[alertKey]bool, now time.Time) []alertPlan {
	var out []alertPlan
	for _, d := range ds {
		if d.State != sla.Running || d.Due.IsZero() {
			continue
		}
		warned := claimed[alertKey{d.ID, alertWarning}]
		switch {
		case !now.Before(d.Due):
			if !claimed[alertKey{d.ID, alertEscalation}] {
				out = append(out, alertPlan{deadline: d, kind: alertEscalation})
			}
			if !warned {
				out = append(out, alertPlan{deadline: d, kind: alertWarning, skip: true})
			}
		case !d.WarnAt.IsZero() && !now.Before(d.WarnAt) && !warned:
			out = append(out, alertPlan{deadline: d, kind: alertWarning})
		}
	}
	return out
}

// nextAlertAt returns the earliest instant at which an alert of a running
// deadline falls due and is not claimed yet; nil when there is none.
func nextAlertAt(ds []sla.Deadline, claimed map[alertKey]bool) *time.Time {
	var next *time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next == nil || t.Before(*next)) {
			tt := t
			next = &tt
		}
	}
	for _, d := range ds {
		if d.State != sla.Running || d.Due.IsZero() || claimed[alertKey{d.ID, alertEscalation}] {
			continue
		}
		if !claimed[alertKey{d.ID, alertWarning}] && !d.WarnAt.IsZero() && d.WarnAt.Before(d.Due) {
			consider(d.WarnAt)
		} else {
			consider(d.Due)
		}
	}
	return next
}

// deadlineResult is what one computation stored.
type deadlineResult struct {
	req       espaceclient.Request
	rd        RequestDeadlines
	dueAt     *time.Time
	moved     bool
	claimed   []alertPlan // alerts claimed by this computation (pending ones have a job)
	nextAlert *time.Time
}

// refreshDeadlinesTx computes a request's deadlines from its history inside
// tx (the request row locked), stores due_at and the request_deadlines row,
// and, when claim is set, claims the alerts due at now: a deadline_alerts
// row per alert (the primary key makes the claim exactly-once, whatever the
// replicas) and, in the same transaction, the job that carries it out.
func (b *Bridge) refreshDeadlinesTx(ctx context.Context, tx pgx.Tx, cfg *config.Config, st *rules, requestID string, claim bool, now time.Time) (deadlineResult, error) {
	var res deadlineResult
	req, err := espaceclient.LockRequestHistory(ctx, tx, requestID)
	if err != nil {
		return res, err
	}
	res.req = req
	res.rd = st.compute(req)
	claimed, err := claimedAlerts(ctx, tx, requestID)
	if err != nil {
		return res, err
	}
	if claim {
		for _, p := range planAlerts(res.rd.Deadlines, claimed, now) {
			ok, err := insertAlert(ctx, tx, req.ID, p, now)
			if err != nil {
				return res, err
			}
			claimed[alertKey{p.deadline.ID, p.kind}] = true
			if !ok {
				continue // another replica claimed it first
			}
			if !p.skip {
				if _, err := b.river.InsertTx(ctx, tx, DeadlineAlertArgs{RequestID: req.ID, DeadlineID: p.deadline.ID, Alert: p.kind}, nil); err != nil {
					return res, fmt.Errorf("enqueuing the %s of %s: %w", p.kind, p.deadline.ID, err)
				}
			}
			res.claimed = append(res.claimed, p)
		}
	}
	res.dueAt = res.rd.DueAt()
	res.nextAlert = nextAlertAt(res.rd.Deadlines, claimed)
	if res.moved, err = espaceclient.SetDueAt(ctx, tx, req.ID, res.dueAt); err != nil {
		return res, err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO request_deadlines (request_id, computed_for, computed_msgs, rules_version, next_alert_at, due_field)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (request_id) DO UPDATE SET computed_for = EXCLUDED.computed_for, computed_msgs = EXCLUDED.computed_msgs,
			rules_version = EXCLUDED.rules_version, next_alert_at = EXCLUDED.next_alert_at, due_field = EXCLUDED.due_field,
			computed_at = now()`,
		req.ID, req.UpdatedAt, len(req.Messages), st.version, res.nextAlert, dueField(cfg, res.dueAt))
	if err != nil {
		return res, fmt.Errorf("storing the deadlines of %s: %w", req.Reference, err)
	}
	return res, nil
}

// RecomputeDeadlines computes a request's deadlines again from its history,
// stores them, and writes "Échéance réponse" on its issue when the due time
// moved. It claims no alert (the watcher does).
func (b *Bridge) RecomputeDeadlines(ctx context.Context, requestID string) error {
	cfg := b.cfg.Holder.Get()
	st, err := rulesFor(cfg)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, b.cfg.Pool, func(tx pgx.Tx) error {
		_, err := b.refreshDeadlinesTx(ctx, tx, cfg, st, requestID, false, b.now())
		return err
	})
	if err != nil {
		return err
	}
	return b.syncDueField(ctx, cfg, requestID)
}

// afterDeadlineEvent is called once something that may move a request's
// deadlines was stored (its issue created, a client message mirrored, a
// refresh from Redmine). issueDue, when not nil, is the "Échéance réponse"
// value the issue holds now (known from Redmine's answer), which saves a
// write. Failures are logged, never returned: the job that calls it has done
// its own work, and the watcher computes again every request whose history
// changed since its last computation.
func (b *Bridge) afterDeadlineEvent(ctx context.Context, log *logrus.Entry, requestID string, issueDue *string) {
	cfg := b.cfg.Holder.Get()
	st, err := rulesFor(cfg)
	if err != nil {
		log.WithError(err).Error("deadline rules")
		return
	}
	err = pgx.BeginFunc(ctx, b.cfg.Pool, func(tx pgx.Tx) error {
		res, err := b.refreshDeadlinesTx(ctx, tx, cfg, st, requestID, false, b.now())
		if err == nil && res.moved {
			log.WithField("due_at", res.dueAt).Info("response deadline moved")
		}
		return err
	})
	if err != nil {
		log.WithError(err).Warn("computing the deadlines; the watcher will do it")
		return
	}
	if issueDue != nil {
		if _, err := b.cfg.Pool.Exec(ctx, `UPDATE request_deadlines SET due_field_sent = $2 WHERE request_id = $1`, requestID, *issueDue); err != nil {
			log.WithError(err).Warn("recording the issue's due field")
		}
	}
	if err := b.syncDueField(ctx, cfg, requestID); err != nil {
		log.WithError(err).Warn("writing Échéance réponse in Redmine; the watcher will retry")
	}
}

// syncDueField writes "Échéance réponse" on the request's issue when the
// wanted value differs from the one last written: one PUT (with
// X-Skip-Webhooks, so it does not come back as a nudge). A transaction-level
// advisory lock per request orders concurrent writers, and the value written
// is the one stored when the lock is held, so the last write is always the
// latest computation's. A write Redmine refuses for good (issue deleted,
// field not editable) is logged and not retried.
func (b *Bridge) syncDueField(ctx context.Context, cfg *config.Config, requestID string) error {
	cf := cfg.Redmine.CustomFields.ResponseDue
	if cf <= 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, b.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7413, hashtext($1))`, requestID); err != nil {
			return err
		}
		var want string
		var sent *string
		var issueID *int
		var ref string
		err := tx.QueryRow(ctx, `
			SELECT s.due_field, s.due_field_sent, r.redmine_issue_id, r.reference
			FROM request_deadlines s JOIN requests r ON r.id = s.request_id WHERE s.request_id = $1`, requestID).
			Scan(&want, &sent, &issueID, &ref)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if issueID == nil || (sent != nil && *sent == want) {
			return nil
		}
		err = b.rm.UpdateIssue(ctx, *issueID, redmine.IssueUpdate{CustomFields: []redmine.CustomFieldSet{{ID: cf, Value: want}}})
		if err != nil && !redmine.IsPermanent(err) {
			return fmt.Errorf("writing Échéance réponse on issue %d: %w", *issueID, err)
		}
		if err != nil {
			b.log.WithError(err).WithFields(logrus.Fields{"issue_id": *issueID, "reference": ref, "custom_field": cf}).
				Error("Redmine refused the Échéance réponse field: check that the sync user may edit it on this tracker")
		}
		_, err = tx.Exec(ctx, `UPDATE request_deadlines SET due_field_sent = $2 WHERE request_id = $1`, requestID, want)
		return err
	})
}

// initDeadlinesTx computes a new request's deadlines in the transaction
// that stores it, so its due time is there from the start (and reaches the
// Redmine issue on its creation). Only a database error is returned (the
// transaction is then lost anyway); a configuration problem is logged and
// left to the watcher.
func (b *Bridge) initDeadlinesTx(ctx context.Context, tx pgx.Tx, req espaceclient.Request) error {
	cfg := b.cfg.Holder.Get()
	st, err := rulesFor(cfg)
	if err != nil {
		b.log.WithError(err).Error("deadline rules: the request gets its deadlines once fixed")
		return nil
	}
	_, err = b.refreshDeadlinesTx(ctx, tx, cfg, st, req.ID, false, b.now())
	return err
}

// claimedAlerts returns the alerts already claimed for a request.
func claimedAlerts(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, requestID string) (map[alertKey]bool, error) {
	rows, err := q.Query(ctx, `SELECT deadline_id, kind FROM deadline_alerts WHERE request_id = $1`, requestID)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer rows.Close()
	out := map[alertKey]bool{}
	for rows.Next() {
		var k alertKey
		if err := rows.Scan(&k.deadlineID, &k.kind); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// insertAlert claims one alert; false when it was already claimed.
func insertAlert(ctx context.Context, tx pgx.Tx, requestID string, p alertPlan, now time.Time) (bool, error) {
	threshold := p.deadline.Due
	state, mail, note := "pending", "pending", "pending"
	if p.kind == alertWarning {
		threshold, note = p.deadline.WarnAt, "none"
		if threshold.IsZero() {
			threshold = p.deadline.Due
		}
	}
	if p.skip {
		state, mail, note = "skipped", "none", "none"
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO deadline_alerts (request_id, deadline_id, kind, target, due_at, threshold_at, state, mail_state, note_state, claimed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`,
		requestID, p.deadline.ID, p.kind, string(p.deadline.Target), p.deadline.Due, threshold, state, mail, note, now)
	if err != nil {
		return false, fmt.Errorf("claiming the %s of %s: %w", p.kind, p.deadline.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// AlertRecord is one warning or escalation as stored, for explanations.
type AlertRecord struct {
	DeadlineID    string
	Kind          string
	Target        string
	State         string
	MailState     string
	MailTo        []string
	MailSentAt    *time.Time
	NoteState     string
	NoteJournalID *int
	ClaimedAt     time.Time
	DoneAt        *time.Time
	Attempts      int
	LastError     string
}

// DeadlineAlerts lists a request's warnings and escalations, oldest first.
func DeadlineAlerts(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, requestID string) ([]AlertRecord, error) {
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
		if err := rows.Scan(&a.DeadlineID, &a.Kind, &a.Target, &a.State, &a.MailState, &a.MailTo, &a.MailSentAt,
			&a.NoteState, &a.NoteJournalID, &a.ClaimedAt, &a.DoneAt, &a.Attempts, &a.LastError); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// issueDueField returns the "Échéance réponse" value an issue read from
// Redmine holds, nil when the field is off.
func issueDueField(cfg *config.Config, issue redmine.Issue) *string {
	if cfg.Redmine.CustomFields.ResponseDue <= 0 {
		return nil
	}
	v := issue.CustomField(cfg.Redmine.CustomFields.ResponseDue)
	return &v
}

// CheckDeadlinesLive checks, as the sync user, what the watcher needs from
// Redmine (for `passerelle check --live`): the priority escalations raise to
// exists, and the sync user may make notes private in every project the
// categories file into (else escalation notes are not written).
func CheckDeadlinesLive(ctx context.Context, cfg *config.Config, rm *redmine.Client) (problems, notes []string) {
	if _, err := rulesFor(cfg); err != nil {
		problems = append(problems, "deadlines: "+err.Error())
	}
	if name := cfg.Deadlines.Escalation.RaisePriorityTo; name != "" {
		prios, err := rm.Priorities(ctx)
		if err != nil {
			problems = append(problems, "deadlines.escalation.raise_priority_to: listing Redmine's priorities: "+err.Error())
		} else {
			found := false
			var names []string
			for _, p := range prios {
				names = append(names, p.Name)
				found = found || strings.EqualFold(p.Name, name)
			}
			if !found {
				problems = append(problems, fmt.Sprintf("deadlines.escalation.raise_priority_to: %q is not a Redmine priority: expected one of %s", name, strings.Join(names, ", ")))
			}
		}
	}
	if cfg.Deadlines.Escalation.WritesNote() {
		seen := map[string]bool{}
		for _, c := range cfg.Categories {
			ident := c.Redmine.Project
			if seen[ident] {
				continue
			}
			seen[ident] = true
			p, err := rm.Project(ctx, ident)
			if err != nil {
				continue // reported by the project checks
			}
			ok, err := rm.HasPermission(ctx, p.ID, "set_notes_private")
			switch {
			case err != nil:
				notes = append(notes, fmt.Sprintf("deadlines: cannot read the sync user's permissions in %s: %v", ident, err))
			case !ok:
				problems = append(problems, fmt.Sprintf("deadlines.escalation.private_note: the sync user may not make notes private in project %s: give its role the permission \"Set notes as private\" (set_notes_private; not \"View private notes\"), or set private_note: false", ident))
			}
		}
	}
	if len(cfg.Deadlines.Recipients) == 0 && len(cfg.Deadlines.DefaultRecipients) == 0 {
		notes = append(notes, "deadlines: no recipients nor default_recipients: warnings and escalations are e-mailed only to assignees whose Redmine address is visible")
	}
	return problems, notes
}
