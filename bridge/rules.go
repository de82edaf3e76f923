package bridge

import (
	"fmt"

	"passerelle/config"
	"passerelle/redmine"
)

// Rule is a category's Redmine mapping rule with every name resolved to an id.
type Rule struct {
	ProjectID     int
	TrackerID     int
	PriorityID    int
	AssigneeID    int
	ParentMandate bool
}

// RuleError says which part of a rule names something Redmine does not have.
// Retrying cannot fix it: an admin must fix the config or Redmine.
type RuleError struct {
	Category string
	Field    string
	Msg      string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("category %q: redmine.%s: %s", e.Category, e.Field, e.Msg)
}

// ResolveRule turns a category's rule into ids using the directory.
func ResolveRule(cat config.Category, d *redmine.Directory) (Rule, error) {
	rr := cat.Redmine
	fail := func(field, format string, args ...any) (Rule, error) {
		return Rule{}, &RuleError{Category: cat.ID, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	p, ok := d.Projects[rr.Project]
	if !ok {
		why := "not found"
		if err := d.ProjectErrors[rr.Project]; err != nil {
			why = err.Error()
		}
		return fail("project", "project %q cannot be read by the sync user (%s)", rr.Project, why)
	}
	t, ok := d.Tracker(rr.Tracker)
	if !ok {
		return fail("tracker", "tracker %q does not exist in Redmine", rr.Tracker)
	}
	if !p.HasTracker(t.ID) {
		return fail("tracker", "tracker %q is not enabled in project %q", rr.Tracker, rr.Project)
	}
	r := Rule{ProjectID: p.ID, TrackerID: t.ID, AssigneeID: rr.Assignee.ID(), ParentMandate: rr.Parent == config.ParentMandate}
	if rr.Priority != "" {
		pr, ok := d.Priority(rr.Priority)
		if !ok {
			return fail("priority", "priority %q does not exist in Redmine", rr.Priority)
		}
		r.PriorityID = pr.ID
	}
	return r, nil
}
