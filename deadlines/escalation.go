package deadlines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
	"passerelle/internal/textile"
	"passerelle/redmine"
)

// The escalation note: a private note on the issue whose deadline passed
// (and its priority raised when deadlines.escalation.raise_priority_to is
// set), written exactly once.
//
// Before the first escalation note of a project, the job checks that the
// sync user may make notes private (permission set_notes_private, as the
// role Developer has): Redmine silently drops private_notes otherwise, and
// the note would be public. Without it, no note is written (note_state
// refused, logged as an error) and the e-mail still goes out.

// EscalationMarker is written at the end of every escalation note: finding
// it in a journal of the sync user tells a retry the note exists.
func EscalationMarker(deadlineID string) string {
	return "Réf. alerte Passerelle : " + deadlineID
}

// EscalationNote is the private note written on an issue whose deadline
// passed: what is late, since when, and how to stop the alert.
func EscalationNote(cal *sla.Calendar, req espaceclient.Request, d sla.Deadline, now time.Time) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*Échéance dépassée : %s*\n\n", TargetLabel(d.Target))
	fmt.Fprintf(&sb, "La demande %s (%s, %s) attend %s depuis le %s.\n", req.Reference, textile.Inline(req.AuthorName),
		espaceclient.RoleLabel(req.AuthorRole), TargetLabel(d.Target), cal.FormatDue(d.Start))
	fmt.Fprintf(&sb, "Délai : %s (%s).\n", d.Limit.Within, d.Limit.Rule)
	fmt.Fprintf(&sb, "En retard depuis le %s", cal.FormatDue(d.Due))
	if d.Allowed > 0 {
		if p := d.Progress(now); p > 1 {
			fmt.Fprintf(&sb, " (dépassement constaté : %s)", formatCounted(time.Duration((p-1)*float64(d.Allowed)), d.Limit.Within.Clock))
		}
	}
	fmt.Fprintf(&sb, ".\n\nPour arrêter l'alerte : %s.\n\n_%s_", targetAction(d.Target), EscalationMarker(d.ID))
	return sb.String()
}

// writeEscalationNote writes the private note (and raises the priority),
// exactly once. It returns the note state to record (written, none,
// refused) and the journal id; an error when a retry may succeed.
func (s *Service) writeEscalationNote(ctx context.Context, log *logrus.Entry, rt *runtime, req espaceclient.Request,
	d sla.Deadline, issue *redmine.Issue, issueErr error, now time.Time) (NoteState, *redmine.JournalID, error) {
	cfg := rt.cfg
	if !cfg.Deadlines.Escalation.WritesNote() {
		return NoteNone, nil, nil
	}
	if req.RedmineIssueID == nil {
		if req.MirrorError != "" {
			return NoteNone, nil, nil // never mirrored: `passerelle check --live` reports it
		}
		// The issue is being created. A plain error, not a snooze: a snooze
		// does not count as an attempt, and would wait for ever on a
		// request that never reaches Redmine.
		return "", nil, errors.New("the request is not in Redmine yet: the escalation note waits for its issue")
	}
	if issueErr != nil {
		if redmine.IsNotFound(issueErr) {
			log.WithError(issueErr).Warn("issue gone: no escalation note")
			return NoteNone, nil, nil
		}
		return "", nil, issueErr
	}
	dir, err := s.directory(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("reading the Redmine directory: %w", err)
	}
	if jid := FindEscalationJournal(*issue, dir.Me.ID, d.ID); jid != 0 {
		log.WithField("journal_id", jid).Info("escalation note already in Redmine from an earlier attempt")
		return NoteWritten, &jid, nil
	}
	allowed, err := s.canSetNotesPrivate(ctx, issue.Project.ID)
	if err != nil {
		return "", nil, fmt.Errorf("checking the sync user's permissions: %w", err)
	}
	if !allowed {
		log.WithField("project_id", issue.Project.ID).Error("the sync user may not make notes private (permission set_notes_private): no escalation note written, rather than a public one")
		return NoteRefused, nil, nil
	}
	up := redmine.IssueUpdate{Notes: EscalationNote(rt.rules.cal, req, d, now), PrivateNotes: true}
	if name := cfg.Deadlines.Escalation.RaisePriorityTo; name != "" {
		up.PriorityID = s.raisedPriority(ctx, log, name, issue.Priority.ID)
	}
	if err := s.rm.UpdateIssue(ctx, issue.ID, up); err != nil {
		if redmine.IsPermanent(err) {
			// Retrying cannot fix it: the alert ends with the e-mail alone.
			log.WithError(err).Error("Redmine refused the escalation note")
			return NoteNone, nil, nil
		}
		return "", nil, fmt.Errorf("writing the escalation note on issue %d: %w", issue.ID, err)
	}
	again, err := s.rm.GetIssue(ctx, issue.ID, "journals")
	if err != nil {
		return "", nil, fmt.Errorf("reading issue %d again: %w", issue.ID, err) // the retry finds the note by its marker
	}
	jid := FindEscalationJournal(again, dir.Me.ID, d.ID)
	if jid == 0 {
		return "", nil, fmt.Errorf("escalation note on issue %d not found after writing it", issue.ID)
	}
	for _, j := range again.Journals {
		if j.ID == jid && !j.PrivateNotes {
			log.WithField("journal_id", jid).Error("Redmine made the escalation note public: check the sync role's set_notes_private permission")
		}
	}
	log.WithFields(logrus.Fields{"issue_id": issue.ID, "journal_id": jid, "priority_id": up.PriorityID}).Warn("deadline escalated in Redmine")
	return NoteWritten, &jid, nil
}

// FindEscalationJournal returns the id of the journal of the sync user
// (syncUserID) holding the escalation note of a deadline, 0 when there is
// none.
func FindEscalationJournal(is redmine.Issue, syncUserID int, deadlineID string) redmine.JournalID {
	marker := EscalationMarker(deadlineID)
	for _, j := range is.Journals {
		// The marker counts only as the note's last line: a client's follow-up
		// (also written by the sync user) may quote it, and deadline ids are
		// predictable (textile.HasTrailingMarker).
		if j.User.ID == syncUserID && textile.HasTrailingMarker(j.Notes, marker) {
			return j.ID
		}
	}
	return 0
}

// raisedPriority returns the id of the priority to raise an issue to, 0 to
// leave it (already as high, or the name unknown).
func (s *Service) raisedPriority(ctx context.Context, log *logrus.Entry, name string, current int) int {
	prios, err := s.rm.Priorities(ctx)
	if err != nil {
		log.WithError(err).Warn("listing priorities: priority not raised")
		return 0
	}
	target, cur := -1, -1
	for i, p := range prios {
		if strings.EqualFold(p.Name, name) {
			target = i
		}
		if p.ID == current {
			cur = i
		}
	}
	if target < 0 {
		log.WithField("priority", name).Error("deadlines.escalation.raise_priority_to names no Redmine priority")
		return 0
	}
	if cur >= target {
		return 0
	}
	return prios[target].ID
}

// permTTL is how long the sync user's private-note permission in a project
// is trusted.
const permTTL = 10 * time.Minute

// permCache remembers, per project, whether the sync user may make notes
// private (the Service's Redmine client is the sync user's).
type permCache struct {
	mu sync.Mutex
	m  map[int]permEntry
}

type permEntry struct {
	ok bool
	at time.Time
}

func (s *Service) canSetNotesPrivate(ctx context.Context, projectID int) (bool, error) {
	s.perms.mu.Lock()
	e, ok := s.perms.m[projectID]
	s.perms.mu.Unlock()
	if ok && time.Since(e.at) < permTTL {
		return e.ok, nil
	}
	allowed, err := s.rm.HasPermission(ctx, projectID, "set_notes_private")
	if err != nil {
		return false, err
	}
	s.perms.mu.Lock()
	if s.perms.m == nil {
		s.perms.m = map[int]permEntry{}
	}
	s.perms.m[projectID] = permEntry{allowed, time.Now()}
	s.perms.mu.Unlock()
	return allowed, nil
}
