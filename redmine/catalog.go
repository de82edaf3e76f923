package redmine

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// CurrentUser returns the user the API key belongs to.
func (c *Client) CurrentUser(ctx context.Context) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	_, err := c.do(ctx, "GET", "/users/current.json", nil, nil, &out)
	return out.User, err
}

// Trackers lists the trackers.
func (c *Client) Trackers(ctx context.Context) ([]IDName, error) {
	var out struct {
		Trackers []IDName `json:"trackers"`
	}
	_, err := c.do(ctx, "GET", "/trackers.json", nil, nil, &out)
	return out.Trackers, err
}

// Statuses lists the issue statuses (through go-redmine, whose URL key the
// transport moves to a header).
func (c *Client) Statuses(ctx context.Context) ([]Status, error) {
	list, err := c.lib.IssueStatuses()
	if err != nil {
		return nil, fmt.Errorf("redmine issue statuses: %w", err)
	}
	out := make([]Status, len(list))
	for i, s := range list {
		out[i] = Status{ID: s.Id, Name: s.Name, IsClosed: s.IsClosed}
	}
	return out, nil
}

// Priorities lists the issue priorities (through go-redmine).
func (c *Client) Priorities(ctx context.Context) ([]IDName, error) {
	list, err := c.lib.IssuePriorities()
	if err != nil {
		return nil, fmt.Errorf("redmine issue priorities: %w", err)
	}
	out := make([]IDName, len(list))
	for i, p := range list {
		out[i] = IDName{ID: p.Id, Name: p.Name}
	}
	return out, nil
}

// Project reads a project by identifier or id, with its trackers and issue
// custom fields.
func (c *Client) Project(ctx context.Context, ident string) (Project, error) {
	var out struct {
		Project Project `json:"project"`
	}
	_, err := c.do(ctx, "GET", "/projects/"+url.PathEscape(ident)+".json",
		url.Values{"include": {"trackers,issue_custom_fields"}}, nil, &out)
	return out.Project, err
}

// User reads a user by id.
func (c *Client) User(ctx context.Context, id int) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	_, err := c.do(ctx, "GET", "/users/"+strconv.Itoa(id)+".json", nil, nil, &out)
	return out.User, err
}

// Group reads a group and its users (needs an admin key).
func (c *Client) Group(ctx context.Context, id int) (Group, error) {
	var out struct {
		Group Group `json:"group"`
	}
	_, err := c.do(ctx, "GET", "/groups/"+strconv.Itoa(id)+".json", url.Values{"include": {"users"}}, nil, &out)
	return out.Group, err
}

// CustomFields lists every custom field (needs an admin key).
func (c *Client) CustomFields(ctx context.Context) ([]IDName, error) {
	var out struct {
		CustomFields []IDName `json:"custom_fields"`
	}
	_, err := c.do(ctx, "GET", "/custom_fields.json", nil, nil, &out)
	return out.CustomFields, err
}
