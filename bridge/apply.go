package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/deadlines"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// applyIssue stores what an issue, as just read from Redmine, brings to the
// client: public staff notes, public documents, status changes. The caller
// holds the request's lock (the drain, or refresh). Everything it stores is
// keyed by journal or attachment id, so applying the same issue twice
// changes nothing, and each journal applied is remembered (applied_journals)
// so that one is never replayed later with another meaning.
//
// Status changes are ordered against the client's own actions by Redmine's
// journal sequence, not by clocks:
//   - a staff status journal older than the client's last close or reopen in
//     Redmine is superseded (the client acted after it): it does not change
//     the client's status;
//   - while a client action is not in Redmine yet (or the request is stopped
//     by an error), status journals are held back: they are not marked
//     applied, and the drain applies them right after the client's actions
//     are written (it ends by applying the issue it read back).
func (b *Bridge) applyIssue(ctx context.Context, requestID string, issue redmine.Issue) error {
	req, err := b.cfg.Store.GetRequest(ctx, requestID)
	if err != nil {
		return err
	}
	log := b.log.WithFields(logrus.Fields{"issue_id": issue.ID, "request_id": req.ID, "reference": req.Reference})
	cfg := b.cfg.Holder.Get()
	dir, err := b.directory(ctx)
	if err != nil {
		return err
	}
	statusName := func(id int) (string, bool) {
		if s, ok := dir.StatusByID[id]; ok {
			return s.Name, true
		}
		if d, err := b.reloadDirectory(ctx); err == nil {
			if s, ok := d.StatusByID[id]; ok {
				return s.Name, true
			}
		}
		return "", false
	}
	pending, err := b.cfg.Store.PendingClientActions(ctx, req.ID, time.Time{})
	if err != nil {
		return err
	}
	hold := pending > 0 || req.MirrorError != ""
	lastClient, err := b.cfg.Store.LastClientStatusJournal(ctx, req.ID)
	if err != nil {
		return err
	}
	changes := PlanChanges(cfg, issue, dir.Me.ID, statusName)
	jids := make([]redmine.JournalID, len(changes))
	for i, c := range changes {
		jids[i] = c.JournalID
	}
	seen, err := b.sync.journalsApplied(ctx, jids)
	if err != nil {
		return err
	}
	maxSize := int64(cfg.Uploads.MaxFileSize)
	var done []redmine.JournalID
	held := false
	for _, c := range changes {
		if seen[c.JournalID] {
			continue
		}
		jid := c.JournalID
		var atts []espaceclient.Attachment
		for _, a := range c.Attachments {
			known, err := b.cfg.Store.AttachmentKnown(ctx, a.ID)
			if err != nil {
				return err
			}
			if known {
				continue
			}
			data, err := b.rm.Download(ctx, a, maxSize)
			if errors.Is(err, redmine.ErrTooLarge) {
				log.WithField("attachment_id", a.ID).Warn("staff attachment over the size limit: not passed on")
				c.Note = joinNote(c.Note, fmt.Sprintf("(Le document « %s » est trop volumineux pour l'espace client : demandez-le à l'agence.)", a.Filename))
				continue
			}
			if redmine.IsPermanent(err) {
				// Redmine lost the file (404 when it is missing on its disk):
				// retrying cannot bring it back; say so instead.
				log.WithField("attachment_id", a.ID).WithError(err).Warn("staff attachment cannot be downloaded: not passed on")
				c.Note = joinNote(c.Note, fmt.Sprintf("(Le document « %s » n'a pas pu être transmis : demandez-le à l'agence.)", a.Filename))
				continue
			}
			if err != nil {
				return err
			}
			id := a.ID
			atts = append(atts, espaceclient.Attachment{Filename: a.Filename, ContentType: a.ContentType, Size: int64(len(data)), Data: data, RedmineAttachmentID: &id})
		}
		statusHeld := false
		if c.Status != "" {
			switch {
			case jid < lastClient:
				log.WithField("journal_id", jid).Debug("staff status change superseded by the client's later action")
			case hold:
				statusHeld = true
			default:
				// One microsecond later than the note of the same journal, so
				// the thread shows the note, then the new status.
				if _, err := b.cfg.Store.ApplyRedmineStatus(ctx, req.ID, &jid, c.Status, c.ClientStatus,
					"Statut : "+espaceclient.StatusLabel(c.ClientStatus), c.At.Add(time.Microsecond)); err != nil {
					return err
				}
			}
		}
		if c.Note != "" {
			if _, err := b.cfg.Store.AddStaffMessage(ctx, req.ID, jid, c.Author, c.Note, c.At, atts); err != nil {
				return err
			}
		} else {
			for _, a := range atts {
				if _, err := b.cfg.Store.AddStaffAttachment(ctx, req.ID, *a.RedmineAttachmentID, a.Filename, a.ContentType, a.Data, c.At); err != nil {
					return err
				}
			}
		}
		if statusHeld {
			held = true
		} else {
			done = append(done, jid)
		}
	}
	if err := b.sync.markJournalsApplied(ctx, issue.ID, done); err != nil {
		return err
	}
	// The journals normally carry every status change. The issue's current
	// status still reconciles what they cannot show (the sync user's own
	// writes, a status the directory did not know): redmine_status follows,
	// and the client's status only when it differs in the client's terms.
	if issue.Status.Name != "" && !hold {
		cs := cfg.Statuses.ClientStatusOf(issue.Status.Name)
		if _, err := b.cfg.Store.ApplyRedmineStatus(ctx, req.ID, nil, issue.Status.Name, cs,
			"Statut : "+espaceclient.StatusLabel(cs), issue.UpdatedOn); err != nil {
			return err
		}
	}
	b.deadlines.AfterEvent(ctx, log, req.ID, deadlines.IssueDueField(cfg, issue))
	if held || hold {
		log.Debug("client action not in Redmine yet: status changes held back")
		return nil
	}
	return b.sync.setIssueUpdatedOn(ctx, issue.ID, appliedAsOf(issue))
}

// appliedAsOf is the instant up to which a read of the issue saw every
// change: Redmine's clock at the read less one second (its times are whole
// seconds, and a change committed just after the read may carry the same
// second), or the issue's updated_on when Redmine sent no Date.
func appliedAsOf(issue redmine.Issue) time.Time {
	if issue.ServerTime.IsZero() {
		return issue.UpdatedOn
	}
	return issue.ServerTime.Add(-time.Second)
}

func joinNote(note, extra string) string {
	if note == "" {
		return extra
	}
	return note + "\n\n" + extra
}
