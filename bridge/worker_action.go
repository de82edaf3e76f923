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
// message's marker (its id). Before writing, the issue's journals are read; a
// journal by the sync user carrying the marker means an earlier attempt wrote
// it and only the bookkeeping was lost, so it is recorded instead of written
// again. After writing (Redmine answers 204 without the journal), the same
// search finds the new journal's id.
//
// Status: a close sets redmine.client_closed_status; a follow-up sets
// redmine.reopen_status when the client wrote on a closed request, or when the
// issue is closed in Redmine (staff closed it before the client's message).
// Since actions are applied in order, the issue's status at write time is the
// result of the client's earlier actions: a follow-up written before a close
// never reopens it. Redmine drops a status its workflow does not allow and
// still answers 204, so the status read back is checked.
func (b *Bridge) mirrorActionLocked(ctx context.Context, log *logrus.Entry, req espaceclient.Request, issueID redmine.IssueID, msg espaceclient.Message) (redmine.Issue, error) {
	cfg := b.cfg.Holder.Get()
	log = log.WithField("message_id", msg.ID)
	dir, err := b.directory(ctx)
	if err != nil {
		return redmine.Issue{}, err
	}
	issue, err := b.rm.GetIssue(ctx, issueID, "journals", "attachments")
	if err != nil {
		return redmine.Issue{}, retryOrStop(log, "reading the issue's journals", err)
	}
	if jid := findMarkedJournal(issue, dir.Me.ID, msg.ID); jid != 0 {
		log.WithField("journal_id", jid).Info("note already in Redmine from an earlier attempt")
		return issue, b.cfg.Store.MarkMessageMirrored(ctx, msg.ID, &jid, b.now())
	}
	closing := msg.Kind == espaceclient.KindClosed
	up := redmine.IssueUpdate{}
	wantStatus := ""
	if closing {
		up.Notes = CloseNote(req, msg)
		wantStatus = cfg.Redmine.ClientClosedStatus
	} else {
		up.Notes = ClientNote(req, msg)
		if msg.Reopens || cfg.Statuses.ClientStatusOf(issue.Status.Name) == config.StatusClosed {
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
	issue, err = b.rm.GetIssue(ctx, issueID, "journals", "attachments")
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
