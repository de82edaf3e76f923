package deadlines

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
	"passerelle/internal/fr"
	"passerelle/notify"
	"passerelle/redmine"
)

// The alert e-mail: who it goes to (recipientsOf), what it says (alertData,
// rendered by the runtime's templates) and its sending (sendAlertMail).

// sendAlertMail sends the warning or escalation e-mail. It returns the
// mail state to record (sent, none, disabled, failed), the recipients and
// the Message-ID; an error only when a retry may succeed.
func (s *Service) sendAlertMail(ctx context.Context, log *logrus.Entry, rt *runtime, req espaceclient.Request,
	d sla.Deadline, kind AlertKind, issue *redmine.Issue, now time.Time) (MailState, []string, string, error) {
	cfg := rt.cfg
	mailer := rt.mailer
	if mailer == nil {
		log.Warn("e-mail disabled (smtp.addr empty): deadline alert not e-mailed")
		return MailDisabled, []string{}, "", nil
	}
	assigneeID, assigneeName := 0, ""
	if issue != nil && issue.AssignedTo != nil {
		assigneeID, assigneeName = issue.AssignedTo.ID, issue.AssignedTo.Name
	} else if cat, ok := cfg.Category(req.Category); ok && issue == nil {
		assigneeID, assigneeName = cat.Redmine.Assignee.ID(), cat.Redmine.Assignee.Name
	}
	to := s.recipientsOf(ctx, cfg, assigneeID)
	var cc []string
	if kind == AlertEscalation {
		cc = without(cfg.Deadlines.Escalation.Cc, to)
	}
	if len(to) == 0 && len(cc) == 0 {
		log.WithField("assignee_id", assigneeID).Warn("no e-mail address for this assignee: set deadlines.recipients or deadlines.default_recipients")
		return MailNone, []string{}, "", nil
	}
	data := alertData(cfg, rt.rules, req, d, kind, issue, assigneeName, now)
	r, err := rt.templates.DeadlineAlert(data)
	if err != nil {
		log.WithError(err).Error("rendering the deadline alert e-mail")
		return MailFailed, []string{}, "", nil
	}
	msgID := notify.StableMessageID(mailer.Domain(), req.ID, d.ID, string(kind))
	retry, err := mailer.Notify(ctx, notify.Message{
		To: to, Cc: cc, Subject: r.Subject, Text: r.Text, HTML: r.HTML, MessageID: msgID,
		Headers: map[string]string{"X-Passerelle-Reference": req.Reference, "X-Passerelle-Alert": string(kind)},
	})
	all := append(append([]string{}, to...), cc...)
	if err != nil && retry {
		log.WithError(err).Warn("deadline alert e-mail not sent; will retry")
		return "", nil, "", fmt.Errorf("e-mailing the %s of %s: %w", kind, d.ID, err)
	}
	if err != nil {
		log.WithError(err).Error("deadline alert e-mail refused for good")
		return MailFailed, all, msgID, nil
	}
	log.WithField("to", strings.Join(all, ", ")).Info("deadline alert e-mailed")
	return MailSent, all, msgID, nil
}

// without returns list without the addresses in drop (case-insensitive).
func without(list, drop []string) []string {
	var out []string
	for _, x := range list {
		keep := true
		for _, y := range drop {
			if strings.EqualFold(x, y) {
				keep = false
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// recipientsOf returns the addresses alerts about an issue assigned to a
// Redmine principal go to: its deadlines.recipients entry; else, for a user
// whose e-mail address Redmine shows (not hidden in their preferences), that
// address; else deadlines.default_recipients.
func (s *Service) recipientsOf(ctx context.Context, cfg *config.Config, principalID int) []string {
	if to, ok := cfg.Deadlines.RecipientsOf(principalID); ok {
		return to
	}
	if principalID != 0 && !isConfiguredGroup(cfg, principalID) {
		if u, err := s.rm.User(ctx, principalID); err == nil && u.Mail != "" {
			return []string{u.Mail}
		}
	}
	return cfg.Deadlines.DefaultRecipients
}

// isConfiguredGroup tells whether a principal is a group some category
// assigns to (Redmine answers 404 for a group read as a user).
func isConfiguredGroup(cfg *config.Config, id int) bool {
	for _, c := range cfg.Categories {
		if c.Redmine.Assignee.Group == id {
			return true
		}
	}
	return false
}

// alertData fills an alert e-mail.
func alertData(cfg *config.Config, rules *Rules, req espaceclient.Request, d sla.Deadline, kind AlertKind,
	issue *redmine.Issue, assignee string, now time.Time) notify.DeadlineAlert {
	a := notify.DeadlineAlert{
		Kind: string(kind), Agency: "Passerelle", Reference: req.Reference, Subject: req.Subject,
		Role: espaceclient.RoleLabel(req.AuthorRole), Client: req.AuthorName, Assignee: assignee,
		Target: TargetLabel(d.Target), Limit: d.Limit.Within.String(), Rule: d.Limit.Rule,
		Action: targetAction(d.Target), Category: req.Category,
	}
	if cat, ok := cfg.Category(req.Category); ok {
		a.Category = cat.Label
	}
	if req.Urgency != "" {
		a.Urgency = strings.ToLower(espaceclient.UrgencyLabel(req.Urgency))
	}
	if issue != nil {
		a.IssueID = issue.ID
		a.IssueURL = strings.TrimRight(cfg.Redmine.URL, "/") + fmt.Sprintf("/issues/%d", issue.ID)
	} else if req.RedmineIssueID != nil {
		a.IssueID = *req.RedmineIssueID
		a.IssueURL = strings.TrimRight(cfg.Redmine.URL, "/") + fmt.Sprintf("/issues/%d", *req.RedmineIssueID)
	}
	if !d.Start.IsZero() {
		a.Started = rules.cal.FormatDue(d.Start)
	}
	if !d.Due.IsZero() {
		a.Due = rules.cal.FormatDue(d.Due)
	}
	if d.Allowed > 0 {
		p := d.Progress(now)
		a.Used = fmt.Sprintf("%d %%", int(p*100+0.5))
		if p > 1 {
			a.Late = formatCounted(time.Duration((p-1)*float64(d.Allowed)), d.Limit.Within.Clock)
		}
	}
	return a
}

// formatCounted writes a counted duration: "2 h 30 ouvrées", "3 j 4 h".
func formatCounted(x time.Duration, clock config.Clock) string {
	s := fr.HoursMinutes(x)
	if clock != config.ClockCalendar {
		s += " ouvrées"
	}
	return s
}
