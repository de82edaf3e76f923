package sla

import (
	"slices"
	"time"

	"passerelle/config"
)

// EventKind is what happened in a request's history.
type EventKind string

// The events a deadline is computed from. The automatic acknowledgment is a
// system message and never an event: it answers nothing.
const (
	// Created: the client filed the request. It starts every target.
	Created EventKind = "created"
	// ClientMessage: the client wrote (a follow-up, an answer to a question).
	ClientMessage EventKind = "client_message"
	// StaffPublicNote: staff wrote a public note in Redmine, which the client
	// sees. Private notes are never events.
	StaffPublicNote EventKind = "staff_public_note"
	// StatusChange: the request's client status changed (Event.Status).
	StatusChange EventKind = "status_change"
)

// Event is one step of a request's history.
type Event struct {
	Kind EventKind
	At   time.Time
	// Status is the client status after a StatusChange, and the initial one
	// on Created (new when empty).
	Status config.ClientStatus
	// ID identifies the event in its source, such as "msg:42" or
	// "journal:1234", and makes the ids of the deadlines it starts stable.
	// When empty, the instant stands for it.
	ID string
}

func (e Event) key() string {
	if e.ID != "" {
		return e.ID
	}
	return e.At.UTC().Format(time.RFC3339Nano)
}

// State is where a deadline stands after the last event.
type State string

// The states of a deadline.
const (
	// Running: the clock counts; Due is set.
	Running State = "running"
	// Paused: the request waits on the client; Due is zero unless it had
	// already passed.
	Paused State = "paused"
	// Met: the target was reached (a public staff note, or the closing for
	// Resolution) at End.
	Met State = "met"
	// Stopped: the request was closed before the target was reached.
	Stopped State = "stopped"
)

// Deadline is one target to reach, as computed from a request's history.
type Deadline struct {
	// ID is stable across recomputations of the same history: the target and
	// the event that started it ("first_answer@msg:42"). Warn and escalate
	// once per ID.
	ID     string
	Target Target
	Limit  Limit
	// Start is when the event that started it happened; StartedBy its key.
	Start     time.Time
	StartedBy string
	State     State
	// Due is when the allowed time runs out (Running, or past when overdue);
	// for a Met or Stopped deadline, the due time it had then.
	Due time.Time
	// WarnAt is when WarnShare of the allowed time is used: warn staff then.
	WarnAt time.Time
	// End is when it was met or stopped, EndedBy the key of that event.
	End     time.Time
	EndedBy string
	// Allowed is the counted time the limit grants (opening time on the
	// business clock); Used the counted time used until the last event.
	Allowed time.Duration
	Used    time.Duration
	// WarnShare is the policy's warning share.
	WarnShare float64

	cal    *Calendar
	since  time.Time // when the clock last resumed, while Running
	phases []phase
}

// phase is a stretch of a deadline's life: counting, or paused and why.
type phase struct {
	from, to time.Time // to is zero while it lasts
	kind     phaseKind
}

type phaseKind int

const (
	counting phaseKind = iota
	waitingClient
	closedRequest
)

// Progress returns the share of the allowed time used at now: 0 at the
// start, WarnShare at WarnAt, 1 at Due, more when overdue. It stops moving
// while paused and once met or stopped.
func (d Deadline) Progress(now time.Time) float64 {
	used := d.Used
	if d.State == Running && now.After(d.since) {
		used += d.counted(d.since, now)
	}
	if d.Allowed <= 0 {
		return 1
	}
	return float64(used) / float64(d.Allowed)
}

// Overdue tells whether a running deadline is past its due time at now.
func (d Deadline) Overdue(now time.Time) bool {
	return d.State == Running && !now.Before(d.Due)
}

// InTime tells whether the deadline was met within the allowed time.
func (d Deadline) InTime() bool {
	return d.State == Met && d.Used <= d.Allowed
}

// counted is the allowed time used between a and b.
func (d *Deadline) counted(a, b time.Time) time.Duration {
	if d.Limit.Within.Clock == config.ClockCalendar {
		return b.Sub(a)
	}
	return d.cal.BusinessBetween(a, b)
}

// after is the instant at which x more counted time has passed since t.
func (d *Deadline) after(t time.Time, x time.Duration) time.Time {
	if d.Limit.Within.Clock == config.ClockCalendar {
		return t.Add(x).In(d.cal.loc)
	}
	return d.cal.addOpen(t, x).In(d.cal.loc)
}

func (d *Deadline) warnAllowed() time.Duration {
	return time.Duration(float64(d.Allowed) * d.WarnShare)
}

func (d *Deadline) closePhase(t time.Time) {
	if n := len(d.phases); n > 0 && d.phases[n-1].to.IsZero() {
		d.phases[n-1].to = t
	}
}

func (d *Deadline) resume(t time.Time) {
	d.closePhase(t)
	d.phases = append(d.phases, phase{from: t, kind: counting})
	d.State, d.since = Running, t
	if d.Due.IsZero() {
		d.Due = d.after(t, d.Allowed-d.Used)
	}
	if d.WarnAt.IsZero() {
		d.WarnAt = d.after(t, d.warnAllowed()-d.Used)
	}
}

func (d *Deadline) pause(t time.Time) {
	d.closePhase(t)
	d.phases = append(d.phases, phase{from: t, kind: waitingClient})
	d.Used += d.counted(d.since, t)
	d.State = Paused
	if d.Due.After(t) {
		d.Due = time.Time{}
	}
	if d.WarnAt.After(t) {
		d.WarnAt = time.Time{}
	}
}

func (d *Deadline) end(t time.Time, s State, by string) {
	if d.State == Running {
		d.Used += d.counted(d.since, t)
	}
	d.closePhase(t)
	d.State, d.End, d.EndedBy = s, t, by
}

// history replays events into deadlines.
type history struct {
	cal    *Calendar
	policy Policy
	status config.ClientStatus
	// clientSpoke: the client wrote after the request last started waiting
	// on them (or after the last staff note while waiting).
	clientSpoke bool
	paused      bool
	open        map[Target]*Deadline
	all         []*Deadline
	// pending is a client message written while the request was closed: its
	// answer deadline starts when the request is reopened.
	pending *Event
}

// Compute replays a request's history under a policy and returns every
// deadline it started, in the order they started: met and stopped ones (for
// reports) as well as the running and paused ones. Events are taken in time
// order (stable for equal instants); events before Created are ignored.
//
// The rules: Created starts every target of the policy. A public staff note
// meets the open first answer and action. A client message, when no first
// answer is open, starts a new one. The clock pauses while the client status
// is waiting_client, until the client writes or the status changes; a staff
// note while still waiting_client pauses it again. Closing meets the
// resolution and stops the others; reopening starts a new resolution and, if
// the client wrote meanwhile, a new first answer from that message.
func Compute(events []Event, p Policy, cal *Calendar) []Deadline {
	if p.WarnShare <= 0 || p.WarnShare >= 1 {
		p.WarnShare = DefaultWarnShare
	}
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b Event) int { return a.At.Compare(b.At) })
	h := &history{cal: cal, policy: p, open: map[Target]*Deadline{}}
	created := false
	for _, e := range evs {
		if !created && e.Kind != Created {
			continue
		}
		switch e.Kind {
		case Created:
			if created {
				continue
			}
			created = true
			h.status = e.Status
			if h.status == "" {
				h.status = config.StatusNew
			}
			h.paused = h.status == config.StatusWaitingClient
			for _, t := range targets {
				h.start(t, e, e.At)
			}
		case ClientMessage:
			if h.status == config.StatusClosed {
				if h.pending == nil {
					h.pending = &e
				}
				continue
			}
			h.clientSpoke = true
			h.setPaused(false, e.At)
			if h.open[FirstAnswer] == nil {
				h.start(FirstAnswer, e, e.At)
			}
		case StaffPublicNote:
			h.pending = nil
			for _, t := range []Target{FirstAnswer, Action} {
				if d := h.open[t]; d != nil {
					d.end(e.At, Met, e.key())
					delete(h.open, t)
				}
			}
			h.clientSpoke = false
		case StatusChange:
			from, to := h.status, e.Status
			if to == "" || to == from {
				continue
			}
			h.status = to
			h.clientSpoke = false
			switch {
			case to == config.StatusClosed:
				for _, t := range targets {
					if d := h.open[t]; d != nil {
						s := Stopped
						if t == Resolution {
							s = Met
						}
						d.end(e.At, s, e.key())
						delete(h.open, t)
					}
				}
				h.pending = nil
				h.paused = false
			case from == config.StatusClosed:
				h.paused = to == config.StatusWaitingClient
				h.start(Resolution, e, e.At)
				if h.pending != nil {
					h.start(FirstAnswer, *h.pending, e.At)
					h.pending = nil
				}
			}
		}
		h.setPaused(h.status == config.StatusWaitingClient && !h.clientSpoke, e.At)
	}
	out := make([]Deadline, len(h.all))
	for i, d := range h.all {
		out[i] = *d
		out[i].phases = slices.Clone(d.phases)
	}
	return out
}

// start opens a deadline for target t, started by event e, its clock
// counting from at (later than e.At when the request was closed meanwhile).
func (h *history) start(t Target, e Event, at time.Time) {
	l, ok := h.policy.Limits[t]
	if !ok || h.open[t] != nil {
		return
	}
	d := &Deadline{ID: string(t) + "@" + e.key(), Target: t, Limit: l, Start: e.At, StartedBy: e.key(),
		WarnShare: h.policy.WarnShare, cal: h.cal}
	if e.At.Before(at) {
		d.phases = append(d.phases, phase{from: e.At, kind: closedRequest})
	}
	due := h.cal.Add(at, l.Within)
	d.Allowed = d.counted(at, due)
	if h.paused {
		d.closePhase(at)
		d.phases = append(d.phases, phase{from: at, kind: waitingClient})
		d.State = Paused
	} else {
		d.resume(at)
		d.Due = due
	}
	h.open[t] = d
	h.all = append(h.all, d)
}

// setPaused pauses or resumes every open deadline.
func (h *history) setPaused(p bool, at time.Time) {
	if p == h.paused {
		return
	}
	h.paused = p
	for _, t := range targets {
		if d := h.open[t]; d != nil {
			if p {
				d.pause(at)
			} else {
				d.resume(at)
			}
		}
	}
}

// Next returns the running deadline due first, among the given targets (all
// when none is given): the one to show clients and store for indexing.
func Next(ds []Deadline, only ...Target) (Deadline, bool) {
	var best Deadline
	found := false
	for _, d := range ds {
		if d.State != Running || (len(only) > 0 && !slices.Contains(only, d.Target)) {
			continue
		}
		if !found || d.Due.Before(best.Due) {
			best, found = d, true
		}
	}
	return best, found
}
