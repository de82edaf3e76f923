package deadlines

import (
	"time"

	"passerelle/deadlines/sla"
	"passerelle/redmine"
)

// AlertKind is what an alert is, as stored in deadline_alerts.kind.
type AlertKind string

// Alert kinds.
const (
	// AlertWarning is sent at a deadline's warning time (75 % of the allowed
	// time by default).
	AlertWarning AlertKind = "warning"
	// AlertEscalation is sent, and noted on the issue, at its due time.
	AlertEscalation AlertKind = "escalation"
)

// AlertState is where an alert is, as stored in deadline_alerts.state.
type AlertState string

// Alert states.
const (
	// AlertPending: claimed, its job not done yet.
	AlertPending AlertState = "pending"
	// AlertDone: every step done (or given up for good).
	AlertDone AlertState = "done"
	// AlertCancelled: the deadline was met or stopped before anything went out.
	AlertCancelled AlertState = "cancelled"
	// AlertSkipped: a warning that came too late (its escalation was claimed
	// with it), never sent.
	AlertSkipped AlertState = "skipped"
)

// MailState is the outcome of an alert's e-mail (deadline_alerts.mail_state).
type MailState string

// Mail states.
const (
	// MailPending: not sent yet.
	MailPending MailState = "pending"
	// MailSent: the mail server accepted it.
	MailSent MailState = "sent"
	// MailNone: no recipient, or nothing to send.
	MailNone MailState = "none"
	// MailDisabled: e-mail is off (smtp.addr empty).
	MailDisabled MailState = "disabled"
	// MailFailed: refused for good.
	MailFailed MailState = "failed"
)

// NoteState is the outcome of an escalation's private note on the issue
// (deadline_alerts.note_state).
type NoteState string

// Note states.
const (
	// NotePending: not written yet.
	NotePending NoteState = "pending"
	// NoteWritten: the note is on the issue (note_journal_id).
	NoteWritten NoteState = "written"
	// NoteNone: no note (a warning, notes off, no issue, refused by Redmine).
	NoteNone NoteState = "none"
	// NoteRefused: the sync user may not make notes private, so none was
	// written rather than a public one.
	NoteRefused NoteState = "refused"
)

// AlertRecord is one warning or escalation as stored, for explanations.
type AlertRecord struct {
	DeadlineID    string
	Kind          AlertKind
	Target        string
	State         AlertState
	MailState     MailState
	MailTo        []string
	MailSentAt    *time.Time
	NoteState     NoteState
	NoteJournalID *redmine.JournalID
	ClaimedAt     time.Time
	DoneAt        *time.Time
	Attempts      int
	LastError     string
}

type alertKey struct {
	deadlineID string
	kind       AlertKind
}

// alertPlan is an alert the watcher claims now.
type alertPlan struct {
	deadline sla.Deadline
	kind     AlertKind
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
		warned := claimed[alertKey{d.ID, AlertWarning}]
		switch {
		case !now.Before(d.Due):
			if !claimed[alertKey{d.ID, AlertEscalation}] {
				out = append(out, alertPlan{deadline: d, kind: AlertEscalation})
			}
			if !warned {
				out = append(out, alertPlan{deadline: d, kind: AlertWarning, skip: true})
			}
		case !d.WarnAt.IsZero() && !now.Before(d.WarnAt) && !warned:
			out = append(out, alertPlan{deadline: d, kind: AlertWarning})
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
		if d.State != sla.Running || d.Due.IsZero() || claimed[alertKey{d.ID, AlertEscalation}] {
			continue
		}
		if !claimed[alertKey{d.ID, AlertWarning}] && !d.WarnAt.IsZero() && d.WarnAt.Before(d.Due) {
			consider(d.WarnAt)
		} else {
			consider(d.Due)
		}
	}
	return next
}

// claimStates are the states a new claim is stored with.
func (p alertPlan) claimStates() (AlertState, MailState, NoteState) {
	switch {
	case p.skip:
		return AlertSkipped, MailNone, NoteNone
	case p.kind == AlertWarning:
		return AlertPending, MailPending, NoteNone
	}
	return AlertPending, MailPending, NotePending
}

// threshold is the instant the alert fell due at: the warning time of a
// warning (its due time when it has none), the due time of an escalation.
func (p alertPlan) threshold() time.Time {
	if p.kind == AlertWarning && !p.deadline.WarnAt.IsZero() {
		return p.deadline.WarnAt
	}
	return p.deadline.Due
}
