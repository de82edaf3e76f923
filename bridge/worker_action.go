package bridge

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// mirrorActionLocked writes one client action (a follow-up, or a close) as a
// note on the issue, exactly once, and marks it mirrored. It returns the issue
// as read after the write (journals and attachments included), which the
// drain applies once all actions are in. The caller holds the request's lock.
//
// How "exactly once" holds: every note Passerelle writes ends with the
// message's marker (its id), and each attempt is counted in the database
// before its PUT (beginNote, store_rewind.go). When an earlier attempt may
// have written the note — one was counted, or the database went back in time
// since the message was filed — the issue's journals are read first, and a
// journal by the sync user carrying the marker means only the bookkeeping was
// lost: it is recorded instead of written again. Otherwise the PUT is the
// first call. After writing (Redmine answers 204 without the journal), the
// issue is read back for the new journal's id.
//
// Status: a close sets redmine.client_closed_status; a follow-up sets
// redmine.reopen_status when the client wrote on a request they saw closed.
// A follow-up on an issue closed in Redmine that the client did not see
// closed yet (staff closed it since the last poll) is found by the read after
// the note: the issue is closed and no journal after the note changed its
// status, so it was closed under the note, and a second write reopens it
// (reopenUnder). Since actions are applied in order, the issue's status at
// write time is the result of the client's earlier actions: a follow-up
// written before a close never reopens it. Redmine drops a status its
// workflow does not allow and still answers 204, so the status read back is
// checked.
func (b *Bridge) mirrorActionLocked(ctx context.Context, log *logrus.Entry, req espaceclient.Request, issueID redmine.IssueID, msg espaceclient.Message) (redmine.Issue, error) {
	cfg := b.cfg.Holder.Get()
	log = log.WithField("message_id", msg.ID)
	dir, err := b.directory(ctx)
	if err != nil {
		return redmine.Issue{}, err
	}
	closing := msg.Kind == espaceclient.KindClosed
	at, err := b.sync.beginNote(ctx, msg.ID)
	if err != nil {
		return redmine.Issue{}, fmt.Errorf("counting the note's attempt: %w", err)
	}
	b.logGuard(at)
	if at.Search {
		b.metrics.earlierSearches.WithLabelValues("note").Inc()
		issue, err := b.rm.GetIssue(ctx, issueID, "journals", "attachments")
		if err != nil {
			return redmine.Issue{}, retryOrStop(log, "reading the issue's journals", err)
		}
		if jid := findMarkedJournal(issue, dir.Me.ID, msg.ID); jid != 0 {
			log.WithField("journal_id", jid).Info("note already in Redmine from an earlier attempt")
			if !closing && !msg.Reopens {
				if issue, err = b.reopenUnder(ctx, log, cfg, dir, issue, jid); err != nil {
					return redmine.Issue{}, err
				}
			}
			return issue, b.cfg.Store.MarkMessageMirrored(ctx, msg.ID, &jid, b.now())
		}
	}
	up := redmine.IssueUpdate{}
	wantStatus := ""
	if closing {
		up.Notes = CloseNote(req, msg)
		wantStatus = cfg.Redmine.ClientClosedStatus
	} else {
		up.Notes = ClientNote(req, msg)
		if msg.Reopens {
			wantStatus = cfg.Redmine.ReopenStatus
		}
	}
	if wantStatus != "" {
		st, ok := dir.Status(wantStatus)
		if !ok {
			return redmine.Issue{}, stop("le statut Redmine « %s » (redmine.client_closed_status / reopen_status) n'existe pas", wantStatus)
		}
		up.StatusID = st.ID
	}
	if !closing {
		if up.Uploads, err = b.uploadAll(ctx, msg.Attachments); err != nil {
			return redmine.Issue{}, retryOrStop(log, "uploading attachments", err)
		}
	}
	if err := b.rm.UpdateIssue(ctx, issueID, up); err != nil {
		return redmine.Issue{}, retryOrStop(log, "adding the note", err)
	}
	issue, err := b.rm.GetIssue(ctx, issueID, "journals", "attachments")
	if err != nil {
		return redmine.Issue{}, err // the retry finds the note by its marker
	}
	jid := findMarkedJournal(issue, dir.Me.ID, msg.ID)
	if jid == 0 {
		log.Error("the note was accepted but is not visible in the journals")
		return redmine.Issue{}, fmt.Errorf("note for message %s not found after writing it", msg.ID)
	}
	if b.crashes.afterNoteWritten != nil {
		if err := b.crashes.afterNoteWritten(msg); err != nil {
			return redmine.Issue{}, err
		}
	}
	if up.StatusID == 0 && !closing {
		if issue, err = b.reopenUnder(ctx, log, cfg, dir, issue, jid); err != nil {
			return redmine.Issue{}, err
		}
	}
	if err := b.cfg.Store.MarkMessageMirrored(ctx, msg.ID, &jid, b.now()); err != nil {
		return redmine.Issue{}, err
	}
	log.WithField("journal_id", jid).Info("client message mirrored to Redmine")
	b.deadlines.AfterEvent(ctx, log, req.ID, nil)
	if up.StatusID != 0 && issue.Status.ID != up.StatusID {
		// The note is in; the status is not. Stop here, so the client's view
		// is kept (status changes are held while the request is stopped) and
		// the admin is told.
		return redmine.Issue{}, stop("Redmine a gardé le statut « %s » au lieu de « %s » pour le ticket n° %d (le workflow du rôle de l'utilisateur de synchronisation ne permet pas ce passage) : corrigez le workflow, mettez le statut à la main dans Redmine, puis lancez passerelle resync",
			issue.Status.Name, wantStatus, issueID)
	}
	return issue, nil
}

// reopenUnder reopens an issue that was closed when the client's follow-up
// (journal jid) was written on it: closed now, and no journal after the
// note changed its status (a close after the note is staff's answer to it,
// and stays). It returns the issue as read after the reopening, or as given
// when nothing was to do. Writing the same reopening twice is harmless: the
// second attempt finds the issue open.
func (b *Bridge) reopenUnder(ctx context.Context, log *logrus.Entry, cfg *config.Config, dir *redmine.Directory,
	issue redmine.Issue, jid redmine.JournalID) (redmine.Issue, error) {
	if cfg.Statuses.ClientStatusOf(issue.Status.Name) != config.StatusClosed || statusChangedAfter(issue, jid) {
		return issue, nil
	}
	st, ok := dir.Status(cfg.Redmine.ReopenStatus)
	if !ok {
		return redmine.Issue{}, stop("le statut Redmine « %s » (redmine.reopen_status) n'existe pas", cfg.Redmine.ReopenStatus)
	}
	log.WithField("status", issue.Status.Name).Info("the client wrote on an issue closed in Redmine: reopening it")
	if err := b.rm.UpdateIssue(ctx, issue.ID, redmine.IssueUpdate{StatusID: st.ID}); err != nil {
		return redmine.Issue{}, retryOrStop(log, "reopening the issue", err)
	}
	read, err := b.rm.GetIssue(ctx, issue.ID, "journals", "attachments")
	if err != nil {
		return redmine.Issue{}, err // the retry finds the note, then the issue open or still closed
	}
	if read.Status.ID != st.ID {
		return redmine.Issue{}, stop("Redmine a gardé le statut « %s » au lieu de « %s » pour le ticket n° %d (le workflow du rôle de l'utilisateur de synchronisation ne permet pas ce passage) : corrigez le workflow, mettez le statut à la main dans Redmine, puis lancez passerelle resync",
			read.Status.Name, cfg.Redmine.ReopenStatus, issue.ID)
	}
	return read, nil
}

// statusChangedAfter tells whether a journal after jid changed the status.
func statusChangedAfter(issue redmine.Issue, jid redmine.JournalID) bool {
	for _, j := range issue.Journals {
		if j.ID <= jid {
			continue
		}
		for _, d := range j.Details {
			if d.Property == "attr" && d.Name == "status_id" {
				return true
			}
		}
	}
	return false
}
