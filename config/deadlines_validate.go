package config

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Defaults and validation of the deadlines section (its types are in
// deadlines.go).

func (d *Deadlines) applyDefaults() {
	if d.WarnAt == "" {
		d.WarnAt = DefaultWarnAt
	}
}

func (d Deadlines) validate(v *validator, path string) {
	if _, err := ParseShare(d.WarnAt); err != nil {
		v.errf(path+".warn_at", "%v", err)
	}
	validatePolicies(v, path+".policies", d.Policies, true)
	seen := map[int]int{}
	for i, r := range d.Recipients {
		rp := fmt.Sprintf("%s.recipients[%d]", path, i)
		switch {
		case r.Group < 0 || r.User < 0:
			v.errf(rp, "ids are positive: expected {group: ID, ...} or {user: ID, ...} with the id of the Redmine group or user")
		case (r.Group == 0) == (r.User == 0):
			v.errf(rp, "expected exactly one of group or user: the id of a Redmine group (such as {group: 5, name: Gestionnaires, emails: [...]}) or of a user")
		default:
			if j, dup := seen[r.ID()]; dup {
				v.errf(rp, "Redmine id %d is already in %s.recipients[%d]: merge their emails", r.ID(), path, j)
			} else {
				seen[r.ID()] = i
			}
		}
		if len(r.Emails) == 0 {
			v.errf(rp+".emails", "required: expected the e-mail addresses alerts go to, such as [gestion@agence.fr]")
		}
		validateEmails(v, rp+".emails", r.Emails)
	}
	validateEmails(v, path+".default_recipients", d.DefaultRecipients)
	validateEmails(v, path+".escalation.cc", d.Escalation.Cc)
	if p := d.Escalation.RaisePriorityTo; p != "" && strings.TrimSpace(p) != p {
		v.errf(path+".escalation.raise_priority_to", "%q has spaces around it: expected a Redmine priority name such as High", p)
	}
}

func validateEmails(v *validator, path string, list []string) {
	for i, e := range list {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
			v.errf(fmt.Sprintf("%s[%d]", path, i), "%q is not an e-mail address: expected one address such as gestion@agence.fr", e)
		}
	}
}

func (d CategoryDeadlines) validate(v *validator, path string) {
	validatePolicies(v, path, d, false)
}

func policyKey(p DeadlinePolicy) string {
	return p.Category + "\x00" + string(p.Role) + "\x00" + p.Urgency
}

func validatePolicies(v *validator, path string, ps []DeadlinePolicy, withCategory bool) {
	seen := map[string]int{}
	for i, p := range ps {
		pp := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case p.Category == "":
		case !withCategory:
			v.errf(pp+".category", "not allowed in a category's deadlines: the category is implied; remove it, or move the policy to deadlines.policies")
		case !categoryIDRe.MatchString(p.Category):
			v.errf(pp+".category", "%q is not a category id: expected the id of one of the categories, such as travaux", p.Category)
		}
		if p.Role != "" && p.Role != RoleTenant && p.Role != RoleOwner {
			v.errf(pp+".role", "%q is not a role: expected tenant or owner (or nothing for both)", p.Role)
		}
		if p.Urgency != "" && !slices.Contains(deadlineUrgencies, p.Urgency) {
			v.errf(pp+".urgency", "%q is not an urgency: expected urgent, high or normal (or nothing for any)", p.Urgency)
		}
		if p.FirstAnswer == nil && p.Action == nil && p.Resolution == nil {
			v.errf(pp, "the policy sets no deadline: expected first_answer, action or resolution, such as first_answer: {within: 2d, clock: business}")
		}
		for _, name := range DeadlineTargetNames {
			if t := p.Target(name); t != nil {
				validateTarget(v, pp+"."+name, *t)
			}
		}
		if j, dup := seen[policyKey(p)]; dup {
			v.errf(pp, "same category, role and urgency as %s[%d]: merge the two policies", path, j)
		} else {
			seen[policyKey(p)] = i
		}
	}
}

func validateTarget(v *validator, path string, t DeadlineTarget) {
	clockOK := true
	switch t.Clock {
	case "", ClockBusiness, ClockCalendar:
	default:
		clockOK = false
		v.errf(path+".clock", "%q is not a clock: expected business (working hours only) or calendar (all the time)", t.Clock)
	}
	if strings.TrimSpace(t.Within) == "" {
		v.errf(path+".within", "required: expected a duration such as 2d, 4h or 1d4h, or none")
		return
	}
	if t.None() {
		return
	}
	sp, err := ParseSpan(t.Within)
	if err != nil {
		v.errf(path+".within", "%v", err)
		return
	}
	if clockOK && t.EffectiveClock() == ClockBusiness && sp.Time >= 24*time.Hour {
		hint := "write days and hours such as 1d4h"
		if sp.Time%(24*time.Hour) == 0 {
			n := sp.Days + int(sp.Time/(24*time.Hour))
			hint = fmt.Sprintf("write %dd for %d working days", n, n)
		}
		v.errf(path+".within", "%q counts working hours in business clock, which makes several working days: %s, or set clock: calendar for elapsed hours", t.Within, hint)
	}
}

// validateDeadlineRefs checks what the policies say about categories against
// the categories themselves: the ids exist, the role and urgency can occur in
// the category, and no policy is written both in deadlines.policies and in a
// category. It needs the whole Config, hence is apart from Deadlines.validate.
func (c *Config) validateDeadlineRefs(v *validator) {
	index := map[string]int{}
	ids := make([]string, 0, len(c.Categories))
	for i, cat := range c.Categories {
		index[cat.ID] = i
		ids = append(ids, cat.ID)
	}
	check := func(path string, p DeadlinePolicy) {
		i, ok := index[p.Category]
		if !ok {
			v.errf(path+".category", "%q is not the id of a category: expected one of %s", p.Category, strings.Join(ids, ", "))
			return
		}
		cat := c.Categories[i]
		if p.Role != "" && !cat.Allows(p.Role) {
			v.errf(path+".role", "categories[%d] (%s) is not open to the role %s: this policy can never apply", i, cat.ID, p.Role)
		}
		if p.Urgency != "" && !cat.Needs("urgency") {
			v.errf(path+".urgency", "categories[%d] (%s) does not ask for an urgency: this policy can never apply; add urgency to its requires", i, cat.ID)
		}
	}
	top := map[string]string{}
	for i, p := range c.Deadlines.Policies {
		if p.Category != "" {
			path := fmt.Sprintf("deadlines.policies[%d]", i)
			check(path, p)
			top[policyKey(p)] = path
		}
	}
	for i, cat := range c.Categories {
		if cat.Deadlines == nil {
			continue
		}
		for j, p := range *cat.Deadlines {
			path := fmt.Sprintf("categories[%d].deadlines[%d]", i, j)
			p.Category = cat.ID
			check(path, p)
			if other, dup := top[policyKey(p)]; dup {
				v.errf(path, "same category, role and urgency as %s: keep only one of them", other)
			}
		}
	}
}
