package deadlines

import (
	"slices"
	"time"

	"passerelle/config"
	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
)

// The SLA report's aggregation (`passerelle report sla`, which prints it):
// for the first-answer deadlines started in a period, by category, by role
// and in all, how many were answered in time, late, not at all, and the
// median answer times.

// AnswerItem is one first-answer deadline, as the report counts it.
type AnswerItem struct {
	Category string
	Role     config.Role
	Outcome  Outcome
	// Counted is the answer time as the deadline counts it (opening time on
	// the business clock), Elapsed the wall-clock time; for answered ones.
	Counted time.Duration
	Elapsed time.Duration
}

// Outcome is how a first-answer deadline ended, as of the report's instant.
type Outcome int

// Outcomes.
const (
	OutcomeInTime        Outcome = iota // answered within the time allowed
	OutcomeAnsweredLate                 // answered after the due time
	OutcomeUnansweredDue                // still no answer, past due
	OutcomePending                      // still no answer, not due yet
	OutcomeClosedNoReply                // the request was closed before any answer
)

// AnswerItems picks a request's first-answer deadlines started in [from, to)
// and says how each one ended, as of now.
func AnswerItems(req espaceclient.Request, ds []sla.Deadline, from, to, now time.Time) []AnswerItem {
	var out []AnswerItem
	for _, d := range ds {
		if d.Target != sla.FirstAnswer || d.Start.Before(from) || !d.Start.Before(to) {
			continue
		}
		it := AnswerItem{Category: req.Category, Role: req.AuthorRole}
		switch d.State {
		case sla.Met:
			it.Outcome = OutcomeAnsweredLate
			if d.InTime() {
				it.Outcome = OutcomeInTime
			}
			it.Counted, it.Elapsed = d.Used, d.End.Sub(d.Start)
		case sla.Stopped:
			it.Outcome = OutcomeClosedNoReply
		default: // running or paused
			it.Outcome = OutcomePending
			if !d.Due.IsZero() && !now.Before(d.Due) {
				it.Outcome = OutcomeUnansweredDue
			}
		}
		out = append(out, it)
	}
	return out
}

// SLAReportOf computes the deadlines of reqs under cfg (the rules built
// once) and aggregates their first-answer deadlines started in [from, to),
// as of now.
func SLAReportOf(cfg *config.Config, reqs []espaceclient.Request, from, to, now time.Time) (SLAReport, error) {
	rules, err := NewRules(cfg)
	if err != nil {
		return SLAReport{}, err
	}
	var items []AnswerItem
	for _, req := range reqs {
		items = append(items, AnswerItems(req, rules.Compute(req).Deadlines, from, to, now)...)
	}
	return BuildSLAReport(cfg, items), nil
}

// SLALine is one line of the report.
type SLALine struct {
	Group string // category, role, total
	Key   string
	Label string
	// Counts.
	Deadlines, InTime, AnsweredLate, UnansweredDue, Pending, ClosedNoReply int
	// Share is InTime / decided, -1 when nothing is decided.
	Share float64
	// Medians over the answered ones, -1 when none.
	MedianCounted, MedianElapsed time.Duration
}

// SLAReport is the report: by category (in configuration order, only those
// with deadlines), by role, and in all.
type SLAReport struct {
	ByCategory []SLALine
	ByRole     []SLALine
	Total      SLALine
}

// BuildSLAReport aggregates answer items.
func BuildSLAReport(cfg *config.Config, items []AnswerItem) SLAReport {
	var rep SLAReport
	seen := map[string]bool{}
	var cats []string
	for _, c := range cfg.Categories {
		cats = append(cats, c.ID)
		seen[c.ID] = true
	}
	for _, it := range items {
		if !seen[it.Category] {
			seen[it.Category] = true
			cats = append(cats, it.Category)
		}
	}
	for _, id := range cats {
		label := id
		if c, ok := cfg.Category(id); ok {
			label = c.Label
		}
		l := aggregate("category", id, label, items, func(it AnswerItem) bool { return it.Category == id })
		if l.Deadlines > 0 {
			rep.ByCategory = append(rep.ByCategory, l)
		}
	}
	for _, r := range []config.Role{config.RoleTenant, config.RoleOwner} {
		rep.ByRole = append(rep.ByRole, aggregate("role", string(r), espaceclient.RoleLabel(r)+"s", items, func(it AnswerItem) bool { return it.Role == r }))
	}
	rep.Total = aggregate("total", "", "Total", items, func(AnswerItem) bool { return true })
	return rep
}

func aggregate(group, key, label string, items []AnswerItem, keep func(AnswerItem) bool) SLALine {
	l := SLALine{Group: group, Key: key, Label: label, Share: -1, MedianCounted: -1, MedianElapsed: -1}
	var counted, elapsed []time.Duration
	for _, it := range items {
		if !keep(it) {
			continue
		}
		l.Deadlines++
		switch it.Outcome {
		case OutcomeInTime:
			l.InTime++
		case OutcomeAnsweredLate:
			l.AnsweredLate++
		case OutcomeUnansweredDue:
			l.UnansweredDue++
		case OutcomePending:
			l.Pending++
		case OutcomeClosedNoReply:
			l.ClosedNoReply++
		}
		if it.Outcome == OutcomeInTime || it.Outcome == OutcomeAnsweredLate {
			counted = append(counted, it.Counted)
			elapsed = append(elapsed, it.Elapsed)
		}
	}
	if decided := l.InTime + l.AnsweredLate + l.UnansweredDue; decided > 0 {
		l.Share = float64(l.InTime) / float64(decided)
	}
	l.MedianCounted, l.MedianElapsed = median(counted), median(elapsed)
	return l
}

// median returns the median (the mean of the two middle values for an even
// count), -1 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
