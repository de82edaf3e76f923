package redmine

import (
	"context"
	"fmt"
	"strings"
)

// Directory maps the names a configuration uses (project identifiers,
// tracker, status and priority names) to Redmine ids, as seen by one user.
// Names compare case-insensitively.
type Directory struct {
	Me         User
	Trackers   map[string]IDName
	Statuses   map[string]Status
	StatusByID map[int]Status
	Priorities map[string]IDName
	Projects   map[string]Project
	// ProjectErrors holds why a project could not be read (missing, not visible).
	ProjectErrors map[string]error
}

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// LoadDirectory reads the current user, trackers, statuses, priorities and
// the named projects. A project that cannot be read is recorded in
// ProjectErrors rather than failing the whole load.
func (c *Client) LoadDirectory(ctx context.Context, projects []string) (*Directory, error) {
	d := &Directory{Trackers: map[string]IDName{}, Statuses: map[string]Status{}, StatusByID: map[int]Status{},
		Priorities: map[string]IDName{}, Projects: map[string]Project{}, ProjectErrors: map[string]error{}}
	var err error
	if d.Me, err = c.CurrentUser(ctx); err != nil {
		return nil, fmt.Errorf("reading the sync user: %w", err)
	}
	trackers, err := c.Trackers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing trackers: %w", err)
	}
	for _, t := range trackers {
		d.Trackers[norm(t.Name)] = t
	}
	statuses, err := c.Statuses(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing statuses: %w", err)
	}
	for _, s := range statuses {
		d.Statuses[norm(s.Name)] = s
		d.StatusByID[s.ID] = s
	}
	prios, err := c.Priorities(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing priorities: %w", err)
	}
	for _, p := range prios {
		d.Priorities[norm(p.Name)] = p
	}
	for _, ident := range projects {
		if _, done := d.Projects[ident]; done {
			continue
		}
		p, err := c.Project(ctx, ident)
		if err != nil {
			d.ProjectErrors[ident] = err
			continue
		}
		d.Projects[ident] = p
	}
	return d, nil
}

// Tracker returns a tracker by name.
func (d *Directory) Tracker(name string) (IDName, bool) {
	t, ok := d.Trackers[norm(name)]
	return t, ok
}

// Status returns a status by name.
func (d *Directory) Status(name string) (Status, bool) { s, ok := d.Statuses[norm(name)]; return s, ok }

// Priority returns a priority by name.
func (d *Directory) Priority(name string) (IDName, bool) {
	p, ok := d.Priorities[norm(name)]
	return p, ok
}

// ProjectHasTracker tells whether a tracker is enabled in a project.
func (p Project) HasTracker(id int) bool {
	for _, t := range p.Trackers {
		if t.ID == id {
			return true
		}
	}
	return false
}

// HasCustomField tells whether an issue custom field is enabled in the project.
// ok is false when Redmine did not say (older versions ignore the include).
func (p Project) HasCustomField(id int) (has, ok bool) {
	if p.IssueCustomFields == nil {
		return false, false
	}
	for _, cf := range p.IssueCustomFields {
		if cf.ID == id {
			return true, true
		}
	}
	return false, true
}
