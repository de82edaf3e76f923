package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/redmine"
)

// PollArgs is the periodic job that lists the issues changed in Redmine.
type PollArgs struct{}

// Kind names the job in River.
func (PollArgs) Kind() string { return "poll_redmine" }

// InsertOpts keeps one poll queued at a time.
func (PollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// RefreshIssueArgs is the job a webhook nudge enqueues: fetch that one issue
// now. The webhook's content is never trusted; only the id is used, and only
// for an issue Passerelle mirrors.
type RefreshIssueArgs struct {
	IssueID int `json:"issue_id"`
}

// Kind names the job in River.
func (RefreshIssueArgs) Kind() string { return "refresh_issue" }

// InsertOpts collapses repeated nudges for one issue while one is waiting.
func (RefreshIssueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Nudge enqueues an immediate refresh of one issue.
func (b *Bridge) Nudge(ctx context.Context, issueID int) error {
	_, err := b.river.Insert(ctx, RefreshIssueArgs{IssueID: issueID}, nil)
	return err
}

const issuesCursor = "redmine_issues"

// PollStats says what one poll did.
type PollStats struct {
	Listed  int // issues listed
	Fetched int // issues read again
	Pages   int // list requests
}

// PollOnce lists the issues that carry a customer-space reference and
// changed since the stored cursor minus the overlap, and applies each one
// that changed since it was last applied. An idle poll costs one list request.
//
// The cursor is Redmine's own clock (the Date header of the poll's first list
// answer), so the two machines' clocks need not agree. The next poll reads
// from that instant minus the overlap: an update Redmine had not committed
// when this poll listed (a slow transaction) still carries an updated_on
// within the overlap, and is listed next time. Counting the overlap from the
// poll's time rather than from the last change keeps an idle poll to the
// issues changed in the last few minutes, whatever burst came before.
//
// Pages follow updated_on rather than an offset: an issue changed while the
// poll runs moves to the end of the list, and with offsets the issues after
// it would shift back onto a page already read and be skipped. Each page
// starts at the last updated_on seen (>=, so the boundary second is listed
// again; issue_sync_state makes that free); an offset is used only inside a
// single second holding more than a page of issues.
func (b *Bridge) PollOnce(ctx context.Context) (PollStats, error) {
	var st PollStats
	cfg := b.cfg.Holder.Get()
	cursor, ok, err := b.sync.cursor(ctx, issuesCursor)
	if err != nil {
		return st, err
	}
	var since time.Time
	if ok {
		since = cursor.Add(-cfg.Redmine.PollOverlap)
	}
	maxSeen := cursor
	var serverNow time.Time
	const pageSize = 100
	for offset := 0; ; {
		page, err := b.rm.ListIssues(ctx, redmine.IssueQuery{
			UpdatedSince: since,
			CustomFields: map[int]string{cfg.Redmine.CustomFields.Reference: "*"},
			Sort:         "updated_on,id",
			Limit:        pageSize,
			Offset:       offset,
		})
		st.Pages++
		if err != nil {
			return st, fmt.Errorf("listing changed issues: %w", err)
		}
		st.Listed += len(page.Issues)
		if serverNow.IsZero() {
			serverNow = page.ServerTime
		}
		ids := make([]int, len(page.Issues))
		for i, is := range page.Issues {
			ids[i] = is.ID
		}
		applied, err := b.sync.issueUpdatedOn(ctx, ids)
		if err != nil {
			return st, err
		}
		for _, is := range page.Issues {
			if t, ok := applied[is.ID]; ok && !is.UpdatedOn.After(t) {
				continue
			}
			fetched, err := b.refresh(ctx, is.ID)
			if fetched {
				st.Fetched++
			}
			if err != nil {
				// Keep the cursor where it was: the next poll tries again.
				return st, err
			}
			if is.UpdatedOn.After(maxSeen) {
				maxSeen = is.UpdatedOn
			}
		}
		for _, is := range page.Issues {
			if is.UpdatedOn.After(maxSeen) {
				maxSeen = is.UpdatedOn
			}
		}
		if len(page.Issues) < pageSize || offset+len(page.Issues) >= page.TotalCount {
			break
		}
		last := page.Issues[len(page.Issues)-1].UpdatedOn.Truncate(time.Second)
		if last.After(since) {
			since, offset = last, 0
		} else {
			offset += len(page.Issues) // a whole page within one second
		}
	}
	next := maxSeen // without a Date header: the last change seen
	if !serverNow.IsZero() {
		next = serverNow.Add(-time.Second) // the header is truncated to the second
	}
	if !next.IsZero() {
		if err := b.sync.setCursor(ctx, issuesCursor, next); err != nil {
			return st, err
		}
	}
	return st, nil
}

// refreshIssue reads one mirrored issue with its journals and attachments and
// applies what changed. Everything it stores is keyed by journal or attachment
// id, so applying the same issue twice changes nothing.
func (b *Bridge) refreshIssue(ctx context.Context, issueID int, nudged bool) error {
	_, err := b.refresh(ctx, issueID)
	if err == nil && nudged {
		b.log.WithField("issue_id", issueID).Debug("issue refreshed after a webhook nudge")
	}
	return err
}

// refresh is refreshIssue; fetched tells whether Redmine was asked at all
// (not for an issue Passerelle does not mirror, or whose mapping is not
// committed yet — it is not marked as applied, so a later poll sees it).
func (b *Bridge) refresh(ctx context.Context, issueID int) (fetched bool, err error) {
	req, err := b.cfg.Store.RequestByIssue(ctx, issueID)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, b.apply(ctx, req, issueID)
}

// apply reads the issue and stores what changed for the client.
func (b *Bridge) apply(ctx context.Context, req espaceclient.Request, issueID int) error {
	log := b.log.WithFields(logrus.Fields{"issue_id": issueID, "request_id": req.ID, "reference": req.Reference})
	issue, err := b.rm.GetIssue(ctx, issueID, "journals", "attachments")
	if redmine.IsNotFound(err) || redmine.IsPermanent(err) {
		log.WithError(err).Warn("mirrored issue no longer readable in Redmine")
		return nil
	}
	if err != nil {
		return err
	}
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
	// A client's close or follow-up not yet in Redmine is newer than Redmine's
	// status: applying that status would undo the client's close (or reopen)
	// for a moment. Hold status changes back; the issue is not marked as
	// applied, so the poll after the client's action is mirrored applies them.
	pending, err := b.cfg.Store.PendingClientActions(ctx, req.ID, b.now().Add(-pendingActionWindow))
	if err != nil {
		return err
	}
	holdStatus := pending > 0
	maxSize := int64(cfg.Uploads.MaxFileSize)
	for _, c := range PlanChanges(cfg, issue, dir.Me.ID, statusName) {
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
				c.Note += fmt.Sprintf("\n\n(Le document « %s » est trop volumineux pour l'espace client : demandez-le à l'agence.)", a.Filename)
				continue
			}
			if err != nil {
				return err
			}
			id := a.ID
			atts = append(atts, espaceclient.Attachment{Filename: a.Filename, ContentType: a.ContentType, Size: int64(len(data)), Data: data, RedmineAttachmentID: &id})
		}
		if c.Status != "" && !holdStatus {
			// One microsecond later than the note of the same journal, so the
			// thread shows the note, then the new status.
			if _, err := b.cfg.Store.ApplyRedmineStatus(ctx, req.ID, &jid, c.Status, c.ClientStatus,
				"Statut : "+espaceclient.StatusLabel(c.ClientStatus), c.At.Add(time.Microsecond)); err != nil {
				return err
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
	}
	// A status changed with a private note is invisible in the journals; the
	// issue's current status still tells the client where things stand.
	if issue.Status.Name != "" && !holdStatus {
		cs := cfg.Statuses.ClientStatusOf(issue.Status.Name)
		if _, err := b.cfg.Store.ApplyRedmineStatus(ctx, req.ID, nil, issue.Status.Name, cs,
			"Statut : "+espaceclient.StatusLabel(cs), issue.UpdatedOn); err != nil {
			return err
		}
	}
	b.afterDeadlineEvent(ctx, log, req.ID, issueDueField(cfg, issue))
	if holdStatus {
		log.Debug("client action not in Redmine yet: status changes held back")
		return nil
	}
	return b.sync.setIssueUpdatedOn(ctx, issue.ID, issue.UpdatedOn)
}

// pendingActionWindow bounds how long a client action that never reaches
// Redmine (its job failed for good) holds status changes back.
const pendingActionWindow = time.Hour
