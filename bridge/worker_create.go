package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/deadlines"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// createIssueLocked creates the Redmine issue of a request, exactly once, and
// records it with the acknowledgment. It returns the issue, read with its
// journals and attachments, when it adopted one an earlier attempt had
// created (nil when it created it now). The caller holds the request's lock.
//
// How "exactly once" holds: the issue carries the request's reference in the
// custom field "Réf. espace client" from its very creation (the same POST), and
// its description carries the request's id (requestMarker). Each attempt is
// counted in the database before its POST (beginAttempt, store_rewind.go);
// when an earlier attempt may have created the issue — one was counted (it
// died or failed before committing the mapping), or the database went back in
// time since the request was filed (a restore, a failover: the count went
// back with it, the rewind guard notices) — Redmine is searched for the
// reference first and an issue made for this request is adopted instead.
// Otherwise no issue can exist for it, and the POST is the only call.
// River's attempt counter is no such proof: a restored database brings the
// job back at attempt 0 while Redmine keeps the issue. Attachments are
// uploaded before the POST and attached by it, so an issue never exists
// without its files.
func (b *Bridge) createIssueLocked(ctx context.Context, requestID string) (*redmine.Issue, error) {
	cfg := b.cfg.Holder.Get()
	req, err := b.cfg.Store.GetRequestThread(ctx, requestID, true)
	if err != nil {
		return nil, err
	}
	if req.RedmineIssueID != nil {
		return nil, nil
	}
	log := b.log.WithFields(logrus.Fields{"request_id": req.ID, "reference": req.Reference, "category": req.Category})
	if len(req.Messages) == 0 {
		return nil, stop("la demande %s n'a pas de premier message", req.Reference)
	}
	first := req.Messages[0]
	cat, ok := cfg.Category(req.Category)
	if !ok {
		return nil, stop("la catégorie %q n'est plus dans la configuration", req.Category)
	}
	dir, err := b.directory(ctx)
	if err != nil {
		return nil, err
	}
	rule, err := ResolveRule(cat, dir)
	if err != nil {
		// The directory may be stale (an admin just added the tracker): reload once.
		if dir, err2 := b.reloadDirectory(ctx); err2 == nil {
			rule, err = ResolveRule(cat, dir)
		}
		if err != nil {
			return nil, errStopped{err}
		}
	}
	refCF := cfg.Redmine.CustomFields.Reference

	// 1. Adopt an issue an earlier attempt created, when one may have.
	existing, err := b.earlierIssues(ctx, log, req, refCF)
	if err != nil {
		return nil, err
	}
	var issue redmine.Issue
	var adopted *redmine.Issue
	needsAttention := ""
	if len(existing) > 0 {
		sort.Slice(existing, func(i, j int) bool { return existing[i].ID < existing[j].ID })
		if len(existing) > 1 {
			log.WithField("issue_ids", issueIDs(existing)).Error("several Redmine issues carry this reference; keeping the oldest")
		}
		full, err := b.rm.GetIssue(ctx, existing[0].ID, "journals", "attachments")
		if err != nil {
			return nil, retryOrStop(log, "reading the issue to adopt", err)
		}
		issue, adopted = full, &full
		log.WithField("issue_id", issue.ID).Info("adopting the Redmine issue created by an earlier attempt")
	} else {
		if issue, needsAttention, err = b.postIssue(ctx, log, cfg, dir, rule, cat, req, first); err != nil {
			return nil, err
		}
	}
	// 2. Commit the mapping and the acknowledgment together.
	status := issue.Status.Name
	cs := cfg.Statuses.ClientStatusOf(status)
	if err := b.cfg.Store.RecordMirrored(ctx, req.ID, issue.ID, status, cs, needsAttention, AckBody(cat, issue.ID), b.now()); err != nil {
		if errors.Is(err, espaceclient.ErrIssueMismatch) {
			return nil, errStopped{err}
		}
		return nil, fmt.Errorf("recording the mirrored issue %d: %w", issue.ID, err)
	}
	log.WithField("issue_id", issue.ID).Info("request mirrored to Redmine")
	b.deadlines.AfterEvent(ctx, log, req.ID, deadlines.IssueDueField(cfg, issue))
	return adopted, nil
}

// logGuard says what the rewind guard noticed, if anything.
func (b *Bridge) logGuard(at attempt) {
	if at.Rewound {
		b.log.WithField("previous_fingerprint", at.Was).Warn("the database is a new incarnation (PostgreSQL restarted, restored or failed over): " +
			"the requests and messages filed before now are searched for in Redmine before they are written")
	}
	if at.NoFingerprint {
		b.noFingerprint.Do(func() {
			b.log.Warn("the database's fingerprint cannot be read (a function of bridge/store_rewind.go is refused): " +
				"every creation and note is searched for in Redmine first, a call more each")
		})
	}
}

// earlierIssues counts this attempt and, when an earlier one may have
// created the request's issue, returns the issues made for this request that
// Redmine holds (none when no search was needed).
func (b *Bridge) earlierIssues(ctx context.Context, log *logrus.Entry, req espaceclient.Request, refCF int) ([]redmine.Issue, error) {
	at, err := b.sync.beginCreate(ctx, req.ID)
	if err != nil {
		return nil, fmt.Errorf("counting the creation attempt: %w", err)
	}
	b.logGuard(at)
	if !at.Search {
		return nil, nil
	}
	b.metrics.earlierSearches.WithLabelValues("create").Inc()
	found, err := b.rm.FindByCustomField(ctx, refCF, req.Reference, 0)
	if err != nil {
		return nil, retryOrStop(log, "searching Redmine for the reference", err)
	}
	// Only an issue made for this very request is adopted: a reference can
	// come back (a database restored from an old backup restarts the
	// numbering), and adopting another client's issue would show them its
	// notes. The description carries the request's id for that.
	var existing []redmine.Issue
	for _, is := range found {
		if hasTrailingMarker(is.Description, requestMarker(req.ID)) {
			existing = append(existing, is)
		} else {
			log.WithField("issue_id", is.ID).Error("a Redmine issue carries this reference but was made for another request: not adopted (was the database restored from an older backup?)")
		}
	}
	return existing, nil
}

// postIssue finds the mandate parent when the rule asks for one, uploads the
// first message's files and creates the issue with them.
func (b *Bridge) postIssue(ctx context.Context, log *logrus.Entry, cfg *config.Config, dir *redmine.Directory, rule Rule,
	cat config.Category, req espaceclient.Request, first espaceclient.Message) (redmine.Issue, string, error) {
	parentID, needsAttention := redmine.IssueID(0), ""
	if rule.ParentMandate {
		var err error
		parentID, needsAttention, err = b.findMandateTicket(ctx, cfg, dir, req)
		if err != nil {
			return redmine.Issue{}, "", retryOrStop(log, "searching the mandate ticket", err)
		}
		if needsAttention != "" {
			log.WithField("mandate", req.Mandate).Warn("no mandate ticket: filing as a top-level issue marked for staff attention: " + needsAttention)
		}
	}
	uploads, err := b.uploadAll(ctx, first.Attachments)
	if err != nil {
		return redmine.Issue{}, "", retryOrStop(log, "uploading attachments", err)
	}
	refCF := cfg.Redmine.CustomFields.Reference
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
		in.CustomFields = append(in.CustomFields, redmine.CustomFieldSet{ID: due, Value: deadlines.FormatDueForStaff(*req.DueAt, cfg)})
	}
	issue, err := b.rm.CreateIssue(ctx, in)
	if err != nil {
		return redmine.Issue{}, "", retryOrStop(log, "creating the Redmine issue", err)
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
	if b.crashes.afterIssueCreated != nil {
		if err := b.crashes.afterIssueCreated(req); err != nil {
			return redmine.Issue{}, "", err
		}
	}
	return issue, needsAttention, nil
}

// findMandateTicket returns the id of the owner's mandate ticket, or a
// reason for staff when there is none (or several).
func (b *Bridge) findMandateTicket(ctx context.Context, cfg *config.Config, dir *redmine.Directory, req espaceclient.Request) (redmine.IssueID, string, error) {
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

func issueIDs(list []redmine.Issue) []redmine.IssueID {
	out := make([]redmine.IssueID, len(list))
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
