package redmine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CreateIssue creates an issue and returns it as Redmine stored it. Redmine
// silently drops fields the user may not set (parent, group assignee, custom
// fields): callers compare the answer with what they asked.
func (c *Client) CreateIssue(ctx context.Context, in IssueCreate) (Issue, error) {
	var out struct {
		Issue Issue `json:"issue"`
	}
	if _, err := c.do(ctx, "POST", "/issues.json", nil, map[string]any{"issue": in}, &out); err != nil {
		return Issue{}, err
	}
	return out.Issue, nil
}

// UpdateIssue changes an issue and/or adds a note. Redmine answers 204
// without the journal: read the issue again to learn its id.
func (c *Client) UpdateIssue(ctx context.Context, id IssueID, in IssueUpdate) error {
	_, err := c.do(ctx, "PUT", "/issues/"+strconv.Itoa(int(id))+".json", nil, map[string]any{"issue": in}, nil)
	return err
}

// GetIssue reads one issue; include may name journals, attachments, children,
// relations.
func (c *Client) GetIssue(ctx context.Context, id IssueID, include ...string) (Issue, error) {
	var q url.Values
	if len(include) > 0 {
		q = url.Values{"include": {strings.Join(include, ",")}}
	}
	var out struct {
		Issue Issue `json:"issue"`
	}
	resp, err := c.do(ctx, "GET", "/issues/"+strconv.Itoa(int(id))+".json", q, nil, &out)
	if err != nil {
		return Issue{}, err
	}
	if t, perr := http.ParseTime(resp.Header().Get("Date")); perr == nil {
		out.Issue.ServerTime = t
	}
	return out.Issue, nil
}

// IssuePage is one page of an issue list.
type IssuePage struct {
	Issues     []Issue `json:"issues"`
	TotalCount int     `json:"total_count"`
	Offset     int     `json:"offset"`
	Limit      int     `json:"limit"`
	// ServerTime is Redmine's clock when it answered (its Date header, to the
	// second); zero when it sent none.
	ServerTime time.Time `json:"-"`
}

// IssueQuery filters GET /issues.json. Zero fields are not sent; status is
// always "*" unless set, so closed issues do not vanish.
type IssueQuery struct {
	ProjectID string
	// UpdatedSince lists issues updated at or after this instant (second granularity, sent in UTC).
	UpdatedSince time.Time
	StatusID     string
	TrackerID    int
	// CustomFields filters by custom field value ("*" = any value); the field
	// must be "used as a filter".
	CustomFields map[int]string
	Sort         string
	Limit        int
	Offset       int
}

func (q IssueQuery) values() url.Values {
	v := url.Values{}
	if q.ProjectID != "" {
		v.Set("project_id", q.ProjectID)
	}
	if !q.UpdatedSince.IsZero() {
		v.Set("updated_on", ">="+q.UpdatedSince.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if q.StatusID == "" {
		q.StatusID = "*"
	}
	v.Set("status_id", q.StatusID)
	if q.TrackerID != 0 {
		v.Set("tracker_id", strconv.Itoa(q.TrackerID))
	}
	for id, val := range q.CustomFields {
		v.Set(fmt.Sprintf("cf_%d", id), val)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	return v
}

// ListIssues reads one page of issues.
func (c *Client) ListIssues(ctx context.Context, q IssueQuery) (IssuePage, error) {
	var out IssuePage
	resp, err := c.do(ctx, "GET", "/issues.json", q.values(), nil, &out)
	if err == nil {
		if t, perr := http.ParseTime(resp.Header().Get("Date")); perr == nil {
			out.ServerTime = t
		}
	}
	return out, err
}

// FindByCustomField returns the issues (any status) whose custom field cfID
// equals value exactly. Redmine's string filter "=" is exact but
// case-insensitive on some databases, so the result is filtered again here.
func (c *Client) FindByCustomField(ctx context.Context, cfID int, value string, trackerID int) ([]Issue, error) {
	page, err := c.ListIssues(ctx, IssueQuery{CustomFields: map[int]string{cfID: value}, TrackerID: trackerID, Limit: 100, Sort: "id"})
	if err != nil {
		return nil, err
	}
	var out []Issue
	for _, is := range page.Issues {
		if is.CustomField(cfID) == value {
			out = append(out, is)
		}
	}
	return out, nil
}

// DeleteIssue deletes an issue (tests and tools only).
func (c *Client) DeleteIssue(ctx context.Context, id IssueID) error {
	_, err := c.do(ctx, "DELETE", "/issues/"+strconv.Itoa(int(id))+".json", nil, nil, nil)
	return err
}
