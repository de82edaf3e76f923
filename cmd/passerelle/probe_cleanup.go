package main

// The end of the probe (probe.go): what it created is deleted, or left closed
// and named.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"passerelle/redmine"
)

// cleanup deletes what the probe created, newest first, even when the
// check's own deadline has passed.
func (p *prober) cleanup(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), time.Minute)
	defer cancel()
	var left []redmine.IssueID
	for i := len(p.created) - 1; i >= 0; i-- {
		id := p.created[i].id
		// Asked first: a refused DELETE is answered with an empty body the client logs about.
		if may, _ := p.rm.HasPermission(ctx, p.created[i].projectID, "delete_issues"); may {
			err := p.deleteIssue(ctx, p.rm, id)
			if err == nil {
				p.note("issue #%d deleted (sync user's key)", id)
				continue
			}
			if !isForbidden(err) {
				p.fail("deleting issue #%d with the sync user's key: %v", id, err)
			}
		}
		if p.admin != nil {
			if err := p.deleteIssue(ctx, p.admin, id); err != nil {
				p.fail("deleting issue #%d with PASSERELLE_REDMINE_ADMIN_API_KEY: %v", id, err)
				left = append(left, id)
				continue
			}
			p.note("issue #%d deleted (admin key: the sync user may not delete issues, as expected)", id)
			continue
		}
		left = append(left, id)
	}
	if len(left) == 0 {
		return
	}
	closed := ""
	if st, ok := p.dir.Status(p.cfg.Redmine.ClientClosedStatus); ok {
		for _, id := range left {
			_ = p.rm.UpdateIssue(ctx, id, redmine.IssueUpdate{StatusID: st.ID})
		}
		closed = fmt.Sprintf(", status %q", st.Name)
	}
	var urls []string
	for _, id := range left {
		urls = append(urls, fmt.Sprintf("%s/issues/%d", strings.TrimRight(p.cfg.Redmine.URL, "/"), id))
	}
	p.note("left in Redmine (subject %q%s, reference %s): %s — the sync user may not delete issues (it needs not): delete them as an administrator, or run the probe with PASSERELLE_REDMINE_ADMIN_API_KEY set", probeSubject, closed, p.marker, strings.Join(urls, " "))
}

// deleteIssue deletes one of the probe's issues and checks it is gone. The
// answer alone proves little (Redmine answers 204 whatever destroy did), so
// the issue is read again: gone, or its id already reused by a newer issue
// (Redmine on SQLite reuses the highest id once deleted), is success. Never
// retried: a second DELETE could hit someone else's issue under a reused id.
func (p *prober) deleteIssue(ctx context.Context, c *redmine.Client, id redmine.IssueID) error {
	if err := c.DeleteIssue(ctx, id); err != nil && !redmine.IsNotFound(err) {
		return err
	}
	is, err := c.GetIssue(ctx, id)
	switch {
	case redmine.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading it again after the DELETE: %w", err)
	case !strings.Contains(is.Description, p.marker):
		return nil // deleted; the id now belongs to a newer issue
	}
	return fmt.Errorf("Redmine answered the DELETE but the issue is still there")
}

func isForbidden(err error) bool {
	var ae *redmine.APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized)
}
