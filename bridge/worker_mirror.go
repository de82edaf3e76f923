package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// MirrorRequestArgs is the job that creates a request's Redmine issue.
type MirrorRequestArgs struct {
	RequestID string `json:"request_id"`
	// Resync marks a job queued by `passerelle resync`: earlier jobs may have
	// created the issue, so it searches before creating even on its first try.
	Resync bool `json:"resync,omitempty"`
}

// Kind names the job in River.
func (MirrorRequestArgs) Kind() string { return "mirror_request" }

// InsertOpts makes the job unique per request.
func (MirrorRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: maxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// MirrorMessageArgs is the job that adds a client follow-up (or a client's
// closing) as a journal note on the request's issue.
type MirrorMessageArgs struct {
	RequestID string `json:"request_id"`
	MessageID string `json:"message_id"`
	// Reopen sets the configured reopen status with the note.
	Reopen bool `json:"reopen,omitempty"`
	// Close sets the configured client-closed status with the note.
	Close bool `json:"close,omitempty"`
}

// Kind names the job in River.
func (MirrorMessageArgs) Kind() string { return "mirror_message" }

// InsertOpts makes the job unique per message.
func (MirrorMessageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: maxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// maxAttempts spreads retries over about two days with the default policy,
// long enough to outlast a weekend-long Redmine outage being fixed on Monday.
const maxAttempts = 60

// notMirroredYet makes a follow-up wait for its request's issue.
const notMirroredYetDelay = 5 * time.Second

// mirrorRequest creates the Redmine issue of a request, exactly once.
//
// How "exactly once" holds: the issue carries the request's reference in the
// custom field "Réf. espace client" from its very creation (the same POST).
// Before creating, the job searches Redmine for an issue with that reference
// (any status); when one exists — because an earlier attempt created it and
// then failed before committing the mapping — that issue is adopted instead of
// creating another. The search is skipped on a job's very first attempt, when
// no earlier attempt can have created anything (River counts an attempt cut
// by a crash or a timeout, so any doubt means attempt > 1): it saves one list
// request, the slowest Redmine call here, on every new request. Attachments are uploaded before the POST and attached by
// it, so an issue never exists without its files. An advisory lock keeps two
// workers off the same request at once.
func (b *Bridge) mirrorRequest(ctx context.Context, requestID string, searchFirst bool) error {
	var result error
	ok, err := b.sync.withRequestLock(ctx, requestID, func() error {
		result = b.mirrorRequestLocked(ctx, requestID, searchFirst)
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(notMirroredYetDelay)
	}
	return result
}

func (b *Bridge) mirrorRequestLocked(ctx context.Context, requestID string, searchFirst bool) error {
	cfg := b.cfg.Holder.Get()
	req, err := b.cfg.Store.GetRequestThread(ctx, requestID, true)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("request %s no longer exists", requestID))
	}
	if err != nil {
		return err
	}
	if req.RedmineIssueID != nil {
		return nil // done by an earlier attempt
	}
	log := b.log.WithFields(logrus.Fields{"request_id": req.ID, "reference": req.Reference, "category": req.Category})
	if len(req.Messages) == 0 {
		return river.JobCancel(fmt.Errorf("request %s has no first message", req.Reference))
	}
	first := req.Messages[0]
	cat, ok := cfg.Category(req.Category)
	if !ok {
		return b.permanent(ctx, log, req, fmt.Errorf("category %q is no longer in the configuration", req.Category))
	}
	dir, err := b.directory(ctx)
	if err != nil {
		return err
	}
	rule, err := ResolveRule(cat, dir)
	if err != nil {
		// The directory may be stale (an admin just added the tracker): reload once.
		if dir, err2 := b.reloadDirectory(ctx); err2 == nil {
			rule, err = ResolveRule(cat, dir)
		}
		if err != nil {
			return b.permanent(ctx, log, req, err)
		}
	}
	refCF := cfg.Redmine.CustomFields.Reference

	// 1. Adopt an issue an earlier attempt created.
	var found []redmine.Issue
	if searchFirst {
		if found, err = b.rm.FindByCustomField(ctx, refCF, req.Reference, 0); err != nil {
			return b.retryOrStop(ctx, log, req, "searching Redmine for the reference", err)
		}
	}
	// Only an issue made for this very request is adopted: a reference can
	// come back (a database restored from an old backup restarts the
	// numbering), and adopting another client's issue would show them its
	// notes. The description carries the request's id for that.
	var existing []redmine.Issue
	for _, is := range found {
		if strings.Contains(is.Description, requestMarker(req.ID)) {
			existing = append(existing, is)
		} else {
			log.WithField("issue_id", is.ID).Error("a Redmine issue carries this reference but was made for another request: not adopted (was the database restored from an older backup?)")
		}
	}
	var issue redmine.Issue
	needsAttention := ""
	if len(existing) > 0 {
		sort.Slice(existing, func(i, j int) bool { return existing[i].ID < existing[j].ID })
		issue = existing[0]
		if len(existing) > 1 {
			log.WithField("issue_ids", issueIDs(existing)).Error("several Redmine issues carry this reference; keeping the oldest")
		}
		log.WithField("issue_id", issue.ID).Info("adopting the Redmine issue created by an earlier attempt")
	} else {
		// 2. Find the mandate ticket for RIB and address changes.
		parentID := 0
		if rule.ParentMandate {
			parentID, needsAttention, err = b.findMandateTicket(ctx, cfg, dir, req)
			if err != nil {
				return b.retryOrStop(ctx, log, req, "searching the mandate ticket", err)
			}
			if needsAttention != "" {
				log.WithField("mandate", req.Mandate).Warn("no mandate ticket: filing as a top-level issue marked for staff attention: " + needsAttention)
			}
		}
		// 3. Upload the files, then create the issue with them in one POST.
		uploads, err := b.uploadAll(ctx, first.Attachments)
		if err != nil {
			return b.retryOrStop(ctx, log, req, "uploading attachments", err)
		}
		in := redmine.IssueCreate{
			ProjectID:     rule.ProjectID,
			TrackerID:     rule.TrackerID,
			PriorityID:    rule.PriorityID,
			AssignedToID:  rule.AssigneeID,
			ParentIssueID: parentID,
			Subject:       IssueSubject(req),
			Description:   IssueDescription(req, first, cat, needsAttention, b.previousRequest(ctx, req)),
			CustomFields:  []redmine.CustomFieldSet{{ID: refCF, Value: req.Reference}},
			Uploads:       uploads,
		}
		if due := cfg.Redmine.CustomFields.ResponseDue; due > 0 && req.DueAt != nil {
			in.CustomFields = append(in.CustomFields, redmine.CustomFieldSet{ID: due, Value: FormatDueForStaff(*req.DueAt, cfg)})
		}
		issue, err = b.rm.CreateIssue(ctx, in)
		if err != nil {
			return b.retryOrStop(ctx, log, req, "creating the Redmine issue", err)
		}
		log = log.WithField("issue_id", issue.ID)
		if issue.CustomField(refCF) != req.Reference {
			log.Error("Redmine dropped the reference custom field: check that the sync user's role may edit it and that it is enabled for the tracker")
		}
		if parentID != 0 && issue.ParentID() != parentID {
			needsAttention = fmt.Sprintf("Redmine a refusé le rattachement au ticket mandat n° %d (droit « Gérer les sous-tâches » ?)", parentID)
			log.WithField("parent_id", parentID).Error("Redmine dropped parent_issue_id: the sync user needs manage_subtasks and must see the parent")
		}
		if rule.AssigneeID != 0 && (issue.AssignedTo == nil || issue.AssignedTo.ID != rule.AssigneeID) {
			log.WithField("assignee_id", rule.AssigneeID).Error("Redmine dropped the assignee")
		}
		if b.hooks.afterIssueCreated != nil {
			if err := b.hooks.afterIssueCreated(req); err != nil {
				return err
			}
		}
	}
	// 4. Commit the mapping and the acknowledgment together.
	status := issue.Status.Name
	cs := cfg.Statuses.ClientStatusOf(status)
	if err := b.cfg.Store.RecordMirrored(ctx, req.ID, issue.ID, status, cs, needsAttention, AckBody(cat, issue.ID), b.now()); err != nil {
		return fmt.Errorf("recording the mirrored issue %d: %w", issue.ID, err)
	}
	log.Info("request mirrored to Redmine")
	b.afterDeadlineEvent(ctx, log, req.ID, issueDueField(cfg, issue))
	return nil
}

// findMandateTicket returns the id of the owner's mandate ticket, or a
// reason for staff when there is none (or several).
func (b *Bridge) findMandateTicket(ctx context.Context, cfg *config.Config, dir *redmine.Directory, req espaceclient.Request) (int, string, error) {
	if req.Mandate == "" {
		return 0, "aucun mandat indiqué par le propriétaire", nil
	}
	tracker, ok := dir.Tracker(cfg.Redmine.MandateTracker)
	if !ok {
		return 0, fmt.Sprintf("le tracker « %s » des tickets mandat n'existe pas", cfg.Redmine.MandateTracker), nil
	}
	found, err := b.rm.FindByCustomField(ctx, cfg.Redmine.CustomFields.MandateNumber, req.Mandate, tracker.ID)
	if err != nil {
		return 0, "", err
	}
	switch len(found) {
	case 0:
		return 0, fmt.Sprintf("ticket mandat introuvable pour le mandat %s : à rattacher à la main", req.Mandate), nil
	case 1:
		return found[0].ID, "", nil
	}
	return 0, fmt.Sprintf("plusieurs tickets mandat pour le mandat %s (%v) : à rattacher à la main", req.Mandate, issueIDs(found)), nil
}

// uploadAll uploads files and returns their references for an issue write.
// A failed attempt leaves orphan uploads, which Redmine deletes by itself.
func (b *Bridge) uploadAll(ctx context.Context, atts []espaceclient.Attachment) ([]redmine.UploadRef, error) {
	var refs []redmine.UploadRef
	for _, a := range atts {
		token, err := b.rm.Upload(ctx, a.Filename, a.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Filename, err)
		}
		refs = append(refs, redmine.UploadRef{Token: token, Filename: a.Filename, ContentType: a.ContentType})
	}
	return refs, nil
}

// mirrorMessage adds a client follow-up, or a client's closing, as a note on
// the issue, exactly once.
//
// How "exactly once" holds: every note Passerelle writes ends with the
// message's marker (its id). Before writing, the job reads the issue's
// journals; a journal by the sync user carrying the marker means an earlier
// attempt wrote it and only the bookkeeping was lost, so it is recorded instead
// of written again. After writing (Redmine answers 204 without the journal),
// the same search finds the new journal's id.
func (b *Bridge) mirrorMessage(ctx context.Context, args MirrorMessageArgs) error {
	var result error
	ok, err := b.sync.withRequestLock(ctx, args.RequestID, func() error {
		result = b.mirrorMessageLocked(ctx, args)
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(notMirroredYetDelay)
	}
	return result
}

func (b *Bridge) mirrorMessageLocked(ctx context.Context, args MirrorMessageArgs) error {
	cfg := b.cfg.Holder.Get()
	msg, err := b.cfg.Store.GetMessage(ctx, args.MessageID, true)
	if errors.Is(err, espaceclient.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("message %s no longer exists", args.MessageID))
	}
	if err != nil {
		return err
	}
	if msg.MirroredAt != nil {
		return nil
	}
	req, err := b.cfg.Store.GetRequest(ctx, args.RequestID)
	if err != nil {
		return err
	}
	log := b.log.WithFields(logrus.Fields{"request_id": req.ID, "reference": req.Reference, "message_id": msg.ID})
	if req.RedmineIssueID == nil {
		if req.MirrorError != "" {
			return river.JobCancel(fmt.Errorf("request %s could not be mirrored: %s", req.Reference, req.MirrorError))
		}
		return river.JobSnooze(notMirroredYetDelay) // the request's own job has not finished yet
	}
	issueID := *req.RedmineIssueID
	log = log.WithField("issue_id", issueID)
	dir, err := b.directory(ctx)
	if err != nil {
		return err
	}
	issue, err := b.rm.GetIssue(ctx, issueID, "journals")
	if err != nil {
		return b.retryOrStop(ctx, log, req, "reading the issue's journals", err)
	}
	if jid := findMarkedJournal(issue, dir.Me.ID, msg.ID); jid != 0 {
		log.WithField("journal_id", jid).Info("note already in Redmine from an earlier attempt")
		return b.cfg.Store.MarkMessageMirrored(ctx, msg.ID, &jid, b.now())
	}
	up := redmine.IssueUpdate{}
	if args.Close {
		up.Notes = CloseNote(req, msg)
		st, ok := dir.Status(cfg.Redmine.ClientClosedStatus)
		if !ok {
			return b.permanentMsg(log, fmt.Errorf("redmine.client_closed_status %q does not exist in Redmine", cfg.Redmine.ClientClosedStatus))
		}
		up.StatusID = st.ID
	} else {
		up.Notes = ClientNote(req, msg)
		if up.Uploads, err = b.uploadAll(ctx, msg.Attachments); err != nil {
			return b.retryOrStop(ctx, log, req, "uploading attachments", err)
		}
		if args.Reopen || cfg.Statuses.ClientStatusOf(issue.Status.Name) == config.StatusClosed {
			st, ok := dir.Status(cfg.Redmine.ReopenStatus)
			if !ok {
				return b.permanentMsg(log, fmt.Errorf("redmine.reopen_status %q does not exist in Redmine", cfg.Redmine.ReopenStatus))
			}
			up.StatusID = st.ID
		}
	}
	if err := b.rm.UpdateIssue(ctx, issueID, up); err != nil {
		return b.retryOrStop(ctx, log, req, "adding the note", err)
	}
	issue, err = b.rm.GetIssue(ctx, issueID, "journals")
	if err != nil {
		return err // the retry will find the note by its marker
	}
	jid := findMarkedJournal(issue, dir.Me.ID, msg.ID)
	if jid == 0 {
		log.Error("the note was accepted but is not visible in the journals")
		return fmt.Errorf("note for message %s not found after writing it", msg.ID)
	}
	if b.hooks.afterNoteWritten != nil {
		if err := b.hooks.afterNoteWritten(msg); err != nil {
			return err
		}
	}
	if err := b.cfg.Store.MarkMessageMirrored(ctx, msg.ID, &jid, b.now()); err != nil {
		return err
	}
	log.WithField("journal_id", jid).Info("client message mirrored to Redmine")
	b.afterDeadlineEvent(ctx, log, req.ID, nil)
	return nil
}

// retryOrStop returns err for a retry when it may pass later (Redmine down,
// 5xx, timeout); for a 4xx that retrying cannot fix it records the cause on
// the request, logs it and cancels the job.
func (b *Bridge) retryOrStop(ctx context.Context, log *logrus.Entry, req espaceclient.Request, doing string, err error) error {
	err = fmt.Errorf("%s: %w", doing, err)
	if redmine.IsPermanent(err) {
		return b.permanent(ctx, log, req, err)
	}
	log.WithError(err).Warn("Redmine not reachable or failing; will retry")
	return err
}

// permanent records why a request cannot be mirrored and stops retrying.
// Nothing is lost: the request stays in the customer space, `passerelle check
// --live` lists it, and `passerelle resync` re-enqueues it once fixed.
func (b *Bridge) permanent(ctx context.Context, log *logrus.Entry, req espaceclient.Request, err error) error {
	log.WithError(err).Error("cannot mirror this request until an admin fixes the cause")
	if serr := b.cfg.Store.SetMirrorError(ctx, req.ID, err.Error()); serr != nil {
		return serr
	}
	return river.JobCancel(err)
}

func (b *Bridge) permanentMsg(log *logrus.Entry, err error) error {
	log.WithError(err).Error("cannot mirror this message until an admin fixes the cause")
	return river.JobCancel(err)
}

func issueIDs(list []redmine.Issue) []int {
	out := make([]int, len(list))
	for i, is := range list {
		out[i] = is.ID
	}
	return out
}

// previousRequest returns the closed request a new one follows, if any (nil
// when none or unreadable: the link is a courtesy to staff).
func (b *Bridge) previousRequest(ctx context.Context, req espaceclient.Request) *espaceclient.Request {
	if req.LinkedRequestID == nil {
		return nil
	}
	prev, err := b.cfg.Store.GetRequest(ctx, *req.LinkedRequestID)
	if err != nil {
		return nil
	}
	return &prev
}
