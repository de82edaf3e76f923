package bridge

import (
	"context"
	"fmt"
	"sort"

	"passerelle/config"
	"passerelle/redmine"
)

// CheckLive checks a configuration against the running Redmine, as the sync
// user, and returns one line per problem (none: all good). Every project,
// tracker, status and priority a rule names must exist and be usable; the sync
// user must not be an administrator (it would see private notes). With an
// admin client (optional) it also checks the assignee groups and users, the
// custom fields. Notes say what could not be checked.
func CheckLive(ctx context.Context, cfg *config.Config, rm, admin *redmine.Client) (problems, notes []string) {
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var projects []string
	for _, c := range cfg.Categories {
		projects = append(projects, c.Redmine.Project)
	}
	dir, err := rm.LoadDirectory(ctx, projects)
	if err != nil {
		add("redmine: %v", err)
		return problems, nil
	}
	if dir.Me.Admin {
		add("redmine: the sync user %q is an administrator: it sees private notes; use a dedicated non-admin user", dir.Me.Login)
	}
	for i, c := range cfg.Categories {
		if _, err := ResolveRule(c, dir); err != nil {
			add("categories[%d] (%s): %v", i, c.ID, err)
		}
		if c.Redmine.Parent == config.ParentMandate {
			if _, ok := dir.Tracker(cfg.Redmine.MandateTracker); !ok {
				add("redmine.mandate_tracker: tracker %q does not exist (needed by category %s)", cfg.Redmine.MandateTracker, c.ID)
			}
		}
	}
	names := make([]string, 0, len(cfg.Statuses.Map))
	for n := range cfg.Statuses.Map {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := dir.Status(n); !ok {
			add("statuses.map: Redmine has no status %q", n)
		}
	}
	for _, s := range []struct{ key, name string }{{"redmine.client_closed_status", cfg.Redmine.ClientClosedStatus}, {"redmine.reopen_status", cfg.Redmine.ReopenStatus}} {
		if _, ok := dir.Status(s.name); !ok {
			add("%s: Redmine has no status %q", s.key, s.name)
		}
	}
	cfs := []struct {
		key string
		id  int
	}{{"reference", cfg.Redmine.CustomFields.Reference}, {"mandate_number", cfg.Redmine.CustomFields.MandateNumber}, {"response_due", cfg.Redmine.CustomFields.ResponseDue}}
	for _, ident := range uniq(projects) {
		p, ok := dir.Projects[ident]
		if !ok {
			continue // reported by the rules
		}
		for _, cf := range cfs {
			if cf.id == 0 || (cf.key == "mandate_number") {
				continue // the mandate number lives on mandate tickets, maybe elsewhere
			}
			if has, known := p.HasCustomField(cf.id); known && !has {
				add("redmine.custom_fields.%s: custom field %d is not enabled in project %q", cf.key, cf.id, ident)
			}
		}
	}
	if admin == nil {
		notes = append(notes, "assignee groups/users and custom field ids not verified (set PASSERELLE_REDMINE_ADMIN_API_KEY to check them)")
		return problems, notes
	}
	all, err := admin.CustomFields(ctx)
	if err != nil {
		add("redmine (admin key): listing custom fields: %v", err)
	} else {
		exists := map[int]bool{}
		for _, f := range all {
			exists[f.ID] = true
		}
		for _, cf := range cfs {
			if cf.id != 0 && !exists[cf.id] {
				add("redmine.custom_fields.%s: custom field %d does not exist", cf.key, cf.id)
			}
		}
	}
	for i, c := range cfg.Categories {
		a := c.Redmine.Assignee
		switch {
		case a.Group != 0:
			if _, err := admin.Group(ctx, a.Group); err != nil {
				add("categories[%d] (%s): redmine.assignee: group %d %s: %v", i, c.ID, a.Group, a.Name, err)
			}
		case a.User != 0:
			if _, err := admin.User(ctx, a.User); err != nil {
				add("categories[%d] (%s): redmine.assignee: user %d %s: %v", i, c.ID, a.User, a.Name, err)
			}
		}
	}
	return problems, notes
}

func uniq(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
