package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Clock says how the time of a deadline is counted.
type Clock string

// The two clocks. An empty clock is ClockBusiness.
const (
	// ClockBusiness counts only the calendar's opening hours: "2d" is two
	// working days (the same time two working days later), "4h" four working
	// hours.
	ClockBusiness Clock = "business"
	// ClockCalendar counts all the time: "7d" is seven calendar days (the same
	// wall time a week later, across summer/winter time), "48h" 48 hours.
	ClockCalendar Clock = "calendar"
)

// NoDeadline, written as a target's within, removes a target that a less
// specific policy sets.
const NoDeadline = "none"

// DefaultWarnAt is the share of the allowed time at which staff are warned.
const DefaultWarnAt = "75%"

// The urgency values of a request (API field "urgency"): the seeds' classes of
// significant action within 1, 3 or 10 days.
var deadlineUrgencies = []string{"urgent", "high", "normal"}

// Deadlines holds the response-deadline policies. A deadline has one of three
// targets: the first answer (a public staff note; a client follow-up after an
// answer starts a new one), a significant action, and the resolution.
type Deadlines struct {
	// WarnAt is the share of the allowed time at which staff are warned, such
	// as "75%" (the default). At 100% the deadline is escalated.
	WarnAt string `yaml:"warn_at"`
	// Policies say which targets apply to which requests. For each target, the
	// most specific matching policy that sets it wins: a category counts more
	// than an urgency, which counts more than a role. Absent (nil), the
	// seeds' defaults apply (DefaultDeadlinePolicies); present, it is the
	// whole list.
	Policies []DeadlinePolicy `yaml:"policies"`
	// Recipients say where staff alerts (warning, escalation) are e-mailed,
	// by the Redmine user or group the issue is assigned to. The sync user
	// can neither list a group's members nor read hidden e-mail addresses,
	// hence this list.
	Recipients []AlertRecipient `yaml:"recipients"`
	// DefaultRecipients get the alerts of an issue whose assignee is in none
	// of Recipients (nor a user with a visible e-mail address), or that is
	// assigned to nobody.
	DefaultRecipients []string `yaml:"default_recipients"`
	// Escalation says what happens at 100 % of the allowed time.
	Escalation Escalation `yaml:"escalation"`
}

// AlertRecipient gives the e-mail addresses of a Redmine user or group (by
// id: the sync user cannot list users or groups). For a group, list its
// members' addresses or a shared mailbox.
type AlertRecipient struct {
	Group  int      `yaml:"group"`
	User   int      `yaml:"user"`
	Name   string   `yaml:"name"`
	Emails []string `yaml:"emails"`
}

// ID returns the Redmine principal id.
func (r AlertRecipient) ID() int {
	if r.Group != 0 {
		return r.Group
	}
	return r.User
}

// Escalation is what the watcher does when a deadline passes, besides
// e-mailing the assignee.
type Escalation struct {
	// PrivateNote writes a private note on the issue saying what is late and
	// since when (default true). The sync user's role needs the permission
	// "set notes private" (set_notes_private), not view_private_notes.
	PrivateNote *bool `yaml:"private_note"`
	// RaisePriorityTo is a Redmine priority name (such as High): an issue
	// with a lower priority is raised to it. Empty: the priority is left.
	RaisePriorityTo string `yaml:"raise_priority_to"`
	// Cc are also e-mailed every escalation (not the warnings): a manager.
	Cc []string `yaml:"cc"`
}

// WritesNote tells whether escalations write a private note.
func (e Escalation) WritesNote() bool { return e.PrivateNote == nil || *e.PrivateNote }

// RecipientsOf returns the configured addresses of a Redmine principal.
func (d Deadlines) RecipientsOf(principalID int) ([]string, bool) {
	for _, r := range d.Recipients {
		if principalID != 0 && r.ID() == principalID {
			return r.Emails, true
		}
	}
	return nil, false
}

// DeadlinePolicy sets deadline targets for the requests it matches. An empty
// Category, Role or Urgency matches any value.
type DeadlinePolicy struct {
	// Category is a category id (categories[].id).
	Category string `yaml:"category"`
	// Role is tenant or owner: who filed the request.
	Role Role `yaml:"role"`
	// Urgency is urgent, high or normal, as chosen on the request.
	Urgency string `yaml:"urgency"`
	// FirstAnswer is the time to the first public staff note, and to the
	// answer to each client follow-up.
	FirstAnswer *DeadlineTarget `yaml:"first_answer"`
	// Action is the time to the first significant action, recorded in Redmine
	// as a public staff note (answer, visit, work order...).
	Action *DeadlineTarget `yaml:"action"`
	// Resolution is the time to closing.
	Resolution *DeadlineTarget `yaml:"resolution"`

	// Source says where the policy comes from ("deadlines.policies[2]",
	// "categories[4].deadlines[0]" or a default), for explanations.
	Source string `yaml:"-"`
}

// Specificity orders policies: the most specific matching one wins.
func (p DeadlinePolicy) Specificity() int {
	s := 0
	if p.Category != "" {
		s += 4
	}
	if p.Urgency != "" {
		s += 2
	}
	if p.Role != "" {
		s++
	}
	return s
}

// Matches tells whether the policy applies to a request.
func (p DeadlinePolicy) Matches(category string, role Role, urgency string) bool {
	return (p.Category == "" || p.Category == category) &&
		(p.Role == "" || p.Role == role) &&
		(p.Urgency == "" || p.Urgency == urgency)
}

// Target returns the target of that name (first_answer, action, resolution),
// nil when the policy does not set it.
func (p DeadlinePolicy) Target(name string) *DeadlineTarget {
	switch name {
	case "first_answer":
		return p.FirstAnswer
	case "action":
		return p.Action
	case "resolution":
		return p.Resolution
	}
	return nil
}

// DeadlineTargetNames are the target keys of a policy, in order.
var DeadlineTargetNames = []string{"first_answer", "action", "resolution"}

// DeadlineTarget is one deadline: how long, counted on which clock.
type DeadlineTarget struct {
	// Within is a duration such as 2d, 4h, 1d4h or 90m, or none.
	Within string `yaml:"within"`
	// Clock is business (default) or calendar.
	Clock Clock `yaml:"clock"`
}

// UnmarshalYAML reads a target, refusing the tempting short form
// "first_answer: 2d" with a message showing the expected one.
func (t *DeadlineTarget) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		what, within := "this", "2d"
		if n.Kind == yaml.ScalarNode {
			what, within = strconv.Quote(n.Value), n.Value
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s is not a deadline target: expected a mapping such as {within: %s, clock: business}", n.Line, what, within)}}
	}
	type plain DeadlineTarget
	return n.Decode((*plain)(t))
}

// None tells whether the target removes the deadline.
func (t DeadlineTarget) None() bool { return strings.TrimSpace(t.Within) == NoDeadline }

// EffectiveClock returns the clock, business when unset.
func (t DeadlineTarget) EffectiveClock() Clock {
	if t.Clock == "" {
		return ClockBusiness
	}
	return t.Clock
}

// CategoryDeadlines are policies written inside a category (its deadlines
// key): the same as deadlines.policies entries, with the category implied.
type CategoryDeadlines []DeadlinePolicy

// Span is a parsed Within: whole days and a remainder of hours and minutes.
type Span struct {
	Days int
	Time time.Duration
}

// maxSpanDays bounds a deadline: more than a year is surely a typo.
const maxSpanDays = 366

var spanRe = regexp.MustCompile(`^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?$`)

// ParseSpan parses a duration written with days, hours and minutes, in this
// order: "2d", "16h", "1d4h", "90m", "1h30m".
func ParseSpan(s string) (Span, error) {
	m := spanRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || strings.TrimSpace(s) == "" {
		return Span{}, fmt.Errorf("%q is not a duration: expected days, hours or minutes such as 2d, 4h, 1d4h or 90m (or none)", s)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	sp := Span{Days: n(1), Time: time.Duration(n(2))*time.Hour + time.Duration(n(3))*time.Minute}
	if sp.Days == 0 && sp.Time == 0 {
		return Span{}, fmt.Errorf("%q is zero: expected a positive duration, or none", s)
	}
	if sp.Days+int(sp.Time/(24*time.Hour)) > maxSpanDays {
		return Span{}, fmt.Errorf("%q is more than a year: expected at most %dd", s, maxSpanDays)
	}
	return sp, nil
}

// ParseShare parses a percentage such as "75%" into 0.75; it must be strictly
// between 0% and 100%.
func ParseShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	num, ok := strings.CutSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("%q is not a share: expected a percentage such as 75%%", s)
	}
	if f <= 0 || f >= 100 {
		return 0, fmt.Errorf("%q: expected more than 0%% and less than 100%% (at 100%% the deadline is escalated)", s)
	}
	return f / 100, nil
}

// DefaultDeadlinePolicies are the seeds' commitments, used when the
// configuration has no deadlines.policies:
//   - owners are answered within 24 h: 1 working day;
//   - tenants are answered within 48 h: 2 working days;
//   - a significant action follows within 1, 3 or 10 working days by urgency
//     (urgent, high, normal);
//   - neighbour trouble (category voisinage): a call back within 7 calendar
//     days.
//
// Answers count working days because the agency is closed nights and weekends:
// "24 h" from a Friday evening means Monday evening, which the seeds' "48 h at
// most" allows. The urgency classes count working days too, the agency having
// no on-call service. "Within 7 days" is a calendar week, which always holds
// five working days.
func DefaultDeadlinePolicies() []DeadlinePolicy {
	biz := func(within string) *DeadlineTarget { return &DeadlineTarget{Within: within, Clock: ClockBusiness} }
	return []DeadlinePolicy{
		{Role: RoleOwner, FirstAnswer: biz("1d"), Source: "défaut : propriétaires, réponse sous 24 h"},
		{Role: RoleTenant, FirstAnswer: biz("2d"), Source: "défaut : locataires, réponse sous 48 h"},
		{Urgency: "urgent", Action: biz("1d"), Source: "défaut : urgence, action sous 1 jour"},
		{Urgency: "high", Action: biz("3d"), Source: "défaut : importante, action sous 3 jours"},
		{Urgency: "normal", Action: biz("10d"), Source: "défaut : normale, action sous 10 jours"},
		{Category: "voisinage", Action: &DeadlineTarget{Within: "7d", Clock: ClockCalendar}, Source: "défaut : trouble de voisinage, rappel sous 7 jours"},
	}
}

// DeadlinePolicies returns every policy in force: deadlines.policies (or the
// defaults when it is absent) followed by the categories' own deadlines with
// their category filled in, each with its Source.
func (c *Config) DeadlinePolicies() []DeadlinePolicy {
	var out []DeadlinePolicy
	if c.Deadlines.Policies == nil {
		out = DefaultDeadlinePolicies()
	} else {
		for i, p := range c.Deadlines.Policies {
			p.Source = fmt.Sprintf("deadlines.policies[%d]", i)
			out = append(out, p)
		}
	}
	for i, cat := range c.Categories {
		if cat.Deadlines == nil {
			continue
		}
		for j, p := range *cat.Deadlines {
			p.Category = cat.ID
			p.Source = fmt.Sprintf("categories[%d].deadlines[%d]", i, j)
			out = append(out, p)
		}
	}
	return out
}
