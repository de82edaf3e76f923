package sla

import (
	"time"

	"passerelle/config"
)

// How a deadline's time was counted, for `passerelle explain`.

// Explanation texts, in French for the CLI.
const (
	whyOpen     = "heures ouvrées"
	whyCalendar = "temps calendaire"
	whyWaiting  = "en attente de la réponse du client"
	whyClosed   = "demande clôturée"
	whyLate     = " — échéance dépassée"
)

// Interval is one stretch of a deadline's explanation.
type Interval struct {
	From, To time.Time
	// Counted tells whether the stretch uses the allowed time.
	Counted bool
	// Why says what the stretch is, in French: "heures ouvrées",
	// "fermé : samedi, dimanche", "en attente de la réponse du client"...
	Why string
}

// Explain lists, interval by interval, how the deadline's time was counted
// up to now (or up to its end): opening hours counted, closed stretches and
// pauses not counted; counted time after Due is marked late.
func (d Deadline) Explain(now time.Time) []Interval {
	var out []Interval
	for _, p := range d.phases {
		to := p.to
		if to.IsZero() || to.After(now) {
			to = now
		}
		if !p.from.Before(to) {
			continue
		}
		switch {
		case p.kind == waitingClient:
			out = append(out, Interval{From: p.from, To: to, Why: whyWaiting})
		case p.kind == closedRequest:
			out = append(out, Interval{From: p.from, To: to, Why: whyClosed})
		case d.Limit.Within.Clock == config.ClockCalendar:
			out = append(out, Interval{From: p.from, To: to, Counted: true, Why: whyCalendar})
		default:
			out = append(out, d.cal.segments(p.from, to)...)
		}
	}
	if d.Due.IsZero() {
		return out
	}
	var marked []Interval
	for _, iv := range out {
		if iv.Counted && iv.From.Before(d.Due) && iv.To.After(d.Due) {
			before := iv
			before.To = d.Due
			marked = append(marked, before)
			iv.From = d.Due
		}
		if iv.Counted && !iv.From.Before(d.Due) {
			iv.Why += whyLate
		}
		marked = append(marked, iv)
	}
	return marked
}
