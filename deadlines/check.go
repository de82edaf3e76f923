package deadlines

import (
	"context"
	"fmt"
	"strings"

	"passerelle/config"
	"passerelle/redmine"
)

// CheckLive checks, as the sync user, what the watcher needs from Redmine
// (for `passerelle check --live`): the rules build, the priority escalations
// raise to exists, and the sync user may make notes private in every project
// the categories file into (else escalation notes are not written).
func CheckLive(ctx context.Context, cfg *config.Config, rm *redmine.Client) (problems, notes []string) {
	if _, err := newRuntime(cfg); err != nil {
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
