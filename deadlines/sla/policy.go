package sla

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"passerelle/config"
	"passerelle/internal/fr"
)

// Duration is the time a deadline allows, on a clock.
type Duration struct {
	// Days are working days (business clock) or calendar days.
	Days int
	// Time is opening time (business clock) or elapsed time, added after Days.
	Time time.Duration
	// Clock is config.ClockBusiness (also when empty) or config.ClockCalendar.
	Clock config.Clock
}

// ParseDuration reads a configured target: within such as "2d", "4h",
// "1d4h", and its clock.
func ParseDuration(within string, clock config.Clock) (Duration, error) {
	sp, err := config.ParseSpan(within)
	if err != nil {
		return Duration{}, err
	}
	if clock == "" {
		clock = config.ClockBusiness
	}
	return Duration{Days: sp.Days, Time: sp.Time, Clock: clock}, nil
}

// String writes the duration in French: "2 jours ouvrés", "4 h ouvrées",
// "7 jours", "1 jour et 12 h".
func (d Duration) String() string {
	biz := d.Clock != config.ClockCalendar
	var parts []string
	if d.Days > 0 {
		s := fmt.Sprintf("%d jour", d.Days)
		switch {
		case d.Days > 1 && biz:
			s += "s ouvrés"
		case d.Days > 1:
			s += "s"
		case biz:
			s += " ouvré"
		}
		parts = append(parts, s)
	}
	if d.Time > 0 || len(parts) == 0 {
		s := fr.HoursMinutes(d.Time)
		if biz {
			s += " ouvrées"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " et ")
}

// Target is what a deadline waits for.
type Target string

// The three targets of a policy.
const (
	// FirstAnswer waits for a public staff note. It starts when the request
	// is filed, and again at a client follow-up once the previous one was
	// answered.
	FirstAnswer Target = "first_answer"
	// Action waits for the first significant action, recorded as a public
	// staff note (answer, visit, work order). It starts when the request is
	// filed, once.
	Action Target = "action"
	// Resolution waits for the request to be closed. It starts when the
	// request is filed, and again when it is reopened.
	Resolution Target = "resolution"
)

// targets lists the targets in the order deadlines are reported.
var targets = []Target{FirstAnswer, Action, Resolution}

// Limit is the time allowed for one target and the rule it comes from.
type Limit struct {
	Within Duration
	// Rule names the policy it comes from ("deadlines.policies[2]",
	// "categories[4].deadlines[0]" or "défaut : ..."), for explanations.
	Rule string
}

// DefaultWarnShare is the warning share when a Policy has none.
const DefaultWarnShare = 0.75

// Policy is the deadlines that apply to one request.
type Policy struct {
	// Limits holds the targets that apply; a missing target has no deadline.
	Limits map[Target]Limit
	// WarnShare is the share of the allowed time at which staff are warned
	// (DefaultWarnShare unless strictly between 0 and 1).
	WarnShare float64
}

// Policies are the configured deadline policies, ready to be matched.
type Policies struct {
	warn  float64
	rules []rule // most specific first
}

type rule struct {
	match  config.DeadlinePolicy
	limits map[Target]*Limit // a nil value: "none", the target is removed
}

// NewPolicies reads the deadline policies of a configuration (its
// deadlines.policies, or the seeds' defaults, and the categories' own
// deadlines).
func NewPolicies(cfg *config.Config) (*Policies, error) {
	warn := DefaultWarnShare
	if cfg.Deadlines.WarnAt != "" {
		w, err := config.ParseShare(cfg.Deadlines.WarnAt)
		if err != nil {
			return nil, fmt.Errorf("deadlines.warn_at: %w", err)
		}
		warn = w
	}
	ps := &Policies{warn: warn}
	for _, p := range cfg.DeadlinePolicies() {
		if _, ok := cfg.Category(p.Category); p.Category != "" && !ok {
			if strings.HasPrefix(p.Source, "deadlines.") {
				return nil, fmt.Errorf("%s: %q is not the id of a category", p.Source, p.Category)
			}
			continue // a default for a category this agency does not have
		}
		r := rule{match: p, limits: map[Target]*Limit{}}
		for _, t := range targets {
			dt := p.Target(string(t))
			if dt == nil {
				continue
			}
			if dt.None() {
				r.limits[t] = nil
				continue
			}
			d, err := ParseDuration(dt.Within, dt.Clock)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", p.Source, t, err)
			}
			r.limits[t] = &Limit{Within: d, Rule: p.Source}
		}
		ps.rules = append(ps.rules, r)
	}
	slices.SortStableFunc(ps.rules, func(a, b rule) int { return b.match.Specificity() - a.match.Specificity() })
	return ps, nil
}

// For returns the policy of a request. For each target, the most specific
// matching policy that sets it wins (category, then urgency, then role); "none"
// there removes the target.
func (ps *Policies) For(category string, role config.Role, urgency string) Policy {
	p := Policy{Limits: map[Target]Limit{}, WarnShare: ps.warn}
	decided := map[Target]bool{}
	for _, r := range ps.rules {
		if !r.match.Matches(category, role, urgency) {
			continue
		}
		for t, l := range r.limits {
			if decided[t] {
				continue
			}
			decided[t] = true
			if l != nil {
				p.Limits[t] = *l
			}
		}
	}
	return p
}
