package deadlines

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"passerelle/config"
	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
)

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

// Rules are a configuration's calendar and policies, built once per
// configuration (NewRules) and kept by whoever computes many requests under
// it: the Service's runtime, the SLA report.
type Rules struct {
	cal      *sla.Calendar
	policies *sla.Policies
	// version fingerprints everything a computation reads from the
	// configuration, so a reload that changes none of it recomputes nothing.
	version string
}

// NewRules builds the calendar and policies of a configuration.
func NewRules(cfg *config.Config) (*Rules, error) {
	cal, err := sla.NewCalendar(cfg.Calendar)
	if err != nil {
		return nil, fmt.Errorf("deadline calendar: %w", err)
	}
	ps, err := sla.NewPolicies(cfg)
	if err != nil {
		return nil, fmt.Errorf("deadline policies: %w", err)
	}
	b, err := json.Marshal(struct {
		Calendar config.Calendar
		WarnAt   string
		Policies []config.DeadlinePolicy
		DueField int
		Zone     string
	}{cfg.Calendar, cfg.Deadlines.WarnAt, cfg.DeadlinePolicies(), cfg.Redmine.CustomFields.ResponseDue, cfg.Calendar.TimeZone})
	if err != nil {
		return nil, fmt.Errorf("fingerprinting the deadline rules: %w", err)
	}
	sum := sha256.Sum256(b)
	return &Rules{cal: cal, policies: ps, version: hex.EncodeToString(sum[:8])}, nil
}

// Calendar is the rules' business calendar.
func (r *Rules) Calendar() *sla.Calendar { return r.cal }

// Compute computes a request's deadlines from its history (req.Messages, in
// thread order).
func (r *Rules) Compute(req espaceclient.Request) RequestDeadlines {
	p := r.policies.For(req.Category, req.AuthorRole, req.Urgency)
	evs := HistoryEvents(req)
	return RequestDeadlines{Calendar: r.cal, Policy: p, Events: evs, Deadlines: sla.Compute(evs, p, r.cal)}
}

// DueLabel is what clients read about a due time: "Réponse attendue avant le
// mardi 24 novembre à 18 h", in the agency's time zone.
func (r *Rules) DueLabel(t time.Time) string { return dueLabel(r.cal, t) }

// DueLabel is what clients read about a due time, on the calendar the
// deadlines were computed on (see Rules.DueLabel).
func (rd RequestDeadlines) DueLabel(t time.Time) string { return dueLabel(rd.Calendar, t) }

func dueLabel(cal *sla.Calendar, t time.Time) string {
	return "Réponse attendue avant le " + cal.FormatDue(t)
}

// ComputeRequestDeadlines computes a request's deadlines from its history
// (req.Messages, in thread order) under the configuration's calendar and
// policies. It builds the rules for this one call: to compute many requests,
// build them once with NewRules.
func ComputeRequestDeadlines(cfg *config.Config, req espaceclient.Request) (RequestDeadlines, error) {
	r, err := NewRules(cfg)
	if err != nil {
		return RequestDeadlines{}, err
	}
	return r.Compute(req), nil
}

// DueLabel is Rules.DueLabel under a configuration, "" when its calendar
// cannot be built. It builds the rules for this one call.
func DueLabel(cfg *config.Config, t time.Time) string {
	r, err := NewRules(cfg)
	if err != nil {
		return ""
	}
	return r.DueLabel(t)
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
