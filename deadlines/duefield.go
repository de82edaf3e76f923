package deadlines

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/redmine"
)

// The "Échéance réponse" custom field (redmine.custom_fields.response_due):
// the next first-answer due time, written on the request's issue for staff.

// FormatDueForStaff writes a due time for the "Échéance réponse" custom field.
func FormatDueForStaff(t time.Time, cfg *config.Config) string {
	loc, err := time.LoadLocation(cfg.Calendar.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// dueField is the "Échéance réponse" value for a due time ("" clears it).
func dueField(cfg *config.Config, due *time.Time) string {
	if due == nil {
		return ""
	}
	return FormatDueForStaff(*due, cfg)
}

// IssueDueField returns the "Échéance réponse" value an issue read from
// Redmine holds, nil when the field is off.
func IssueDueField(cfg *config.Config, issue redmine.Issue) *string {
	if cfg.Redmine.CustomFields.ResponseDue <= 0 {
		return nil
	}
	v := issue.CustomField(cfg.Redmine.CustomFields.ResponseDue)
	return &v
}

// syncDueField writes "Échéance réponse" on the request's issue when the
// wanted value differs from the one last written: one PUT (with
// X-Skip-Webhooks, so it does not come back as a nudge). A transaction-level
// advisory lock per request orders concurrent writers, and the value written
// is the one stored when the lock is held, so the last write is always the
// latest computation's. A write Redmine refuses for good (issue deleted,
// field not editable) is logged and not retried.
func (s *Service) syncDueField(ctx context.Context, cfg *config.Config, requestID string) error {
	cf := cfg.Redmine.CustomFields.ResponseDue
	if cf <= 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockDueField(ctx, tx, requestID); err != nil {
			return err
		}
		row, found, err := readDueField(ctx, tx, requestID)
		if err != nil || !found {
			return err
		}
		if row.issueID == nil || (row.sent != nil && *row.sent == row.want) {
			return nil
		}
		err = s.rm.UpdateIssue(ctx, *row.issueID, redmine.IssueUpdate{CustomFields: []redmine.CustomFieldSet{{ID: cf, Value: row.want}}})
		if err != nil && !redmine.IsPermanent(err) {
			return fmt.Errorf("writing Échéance réponse on issue %d: %w", *row.issueID, err)
		}
		if err != nil {
			s.log.WithError(err).WithFields(logrus.Fields{"issue_id": *row.issueID, "reference": row.reference, "custom_field": cf}).
				Error("Redmine refused the Échéance réponse field: check that the sync user may edit it on this tracker")
		}
		if err := recordDueFieldSent(ctx, tx, requestID, row.want); err != nil {
			return fmt.Errorf("recording the due field of request %s: %w", requestID, err)
		}
		return nil
	})
}
