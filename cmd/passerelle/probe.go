package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/redmine"
)

// The write round-trip of `passerelle check --live --probe`: what Passerelle
// writes, written once for real with the sync user's key and read back,
// because Redmine drops silently what a user may not set (a group assignee, a
// parent, a custom field, a status the workflow refuses). The Go counterpart,
// for an agency's own Redmine, of the curl check the stack runs after each
// provisioning (scripts/stack/redmine-check.sh, which also checks with a staff
// key that the sync user does not see staff private notes).
//
// Every issue it creates has the subject "passerelle probe", a description
// saying what it is, and a unique reference (PROBE-…) in the reference custom
// field. At the end it deletes them: with the sync user's key if its role may
// delete issues (it needs not), else with PASSERELLE_REDMINE_ADMIN_API_KEY
// when set. Without either, they stay in Redmine, closed (client_closed_status),
// and the probe prints their ids and URLs so that someone deletes them.

// probeSubject is the subject of every issue the probe creates.
const probeSubject = "passerelle probe"

// probeIssue is an issue the probe created, to delete at the end.
type probeIssue struct {
	id        redmine.IssueID
	projectID int
}

// prober runs the probe and collects its findings.
type prober struct {
	cfg      *config.Config
	rm       *redmine.Client // the sync user
	admin    *redmine.Client // nil without PASSERELLE_REDMINE_ADMIN_API_KEY
	dir      *redmine.Directory
	marker   string
	problems []string
	notes    []string
	created  []probeIssue // in creation order; deleted in reverse order
}

func (p *prober) fail(format string, args ...any) {
	p.problems = append(p.problems, "probe: "+fmt.Sprintf(format, args...))
}

func (p *prober) note(format string, args ...any) {
	p.notes = append(p.notes, "probe: "+fmt.Sprintf(format, args...))
}

// runProbe writes and reads back what the sync writes, in the projects of the
// first category and of the first category whose issues are subtasks of a
// mandate ticket. problems is empty when Redmine kept everything.
func runProbe(ctx context.Context, cfg *config.Config, rm, admin *redmine.Client) (problems, notes []string) {
	p := &prober{cfg: cfg, rm: rm, admin: admin, marker: probeMarker()}
	p.run(ctx)
	return p.problems, p.notes
}

func probeMarker() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "PROBE-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

func (p *prober) run(ctx context.Context) {
	if len(p.cfg.Categories) == 0 {
		p.fail("no category in the configuration: nothing to probe")
		return
	}
	var projects []string
	for _, c := range p.cfg.Categories {
		projects = append(projects, c.Redmine.Project)
	}
	dir, err := p.rm.LoadDirectory(ctx, projects)
	if err != nil {
		p.fail("reading Redmine as the sync user: %v (expected the sync user's API key to be valid and the REST API on)", err)
		return
	}
	p.dir = dir
	p.note("every issue it creates has the subject %q and %s in its description and reference", probeSubject, p.marker)
	seen := map[string]bool{}
	for _, c := range p.cfg.Categories {
		ident := c.Redmine.Project
		if _, ok := dir.Projects[ident]; !ok && !seen[ident] {
			p.fail("project %q (category %s) cannot be read by the sync user: %v (expected an existing project the sync user is a member of)", ident, c.ID, dir.ProjectErrors[ident])
		}
		seen[ident] = true
	}
	defer p.cleanup(ctx)

	first := p.cfg.Categories[0]
	var mandateCat *config.Category
	for i := range p.cfg.Categories {
		if p.cfg.Categories[i].Redmine.Parent == config.ParentMandate {
			mandateCat = &p.cfg.Categories[i]
			break
		}
	}
	parent := redmine.IssueID(0)
	if mandateCat != nil {
		parent = p.mandateTicket(ctx, *mandateCat)
	}
	if first.Redmine.Parent == config.ParentMandate {
		p.request(ctx, first, parent, true)
	} else {
		p.request(ctx, first, 0, true)
		if mandateCat != nil && parent != 0 {
			p.request(ctx, *mandateCat, parent, false)
		}
	}
}

// mandateTicket creates a ticket of the mandate tracker with the mandate
// number custom field, as the sync user, in the project of cat; 0 on failure.
func (p *prober) mandateTicket(ctx context.Context, cat config.Category) redmine.IssueID {
	where := fmt.Sprintf("project %q (category %s)", cat.Redmine.Project, cat.ID)
	proj, ok := p.dir.Projects[cat.Redmine.Project]
	if !ok {
		return 0 // reported
	}
	t, ok := p.dir.Tracker(p.cfg.Redmine.MandateTracker)
	if !ok {
		p.fail("redmine.mandate_tracker: tracker %q does not exist (expected the tracker of the owners' mandate tickets)", p.cfg.Redmine.MandateTracker)
		return 0
	}
	in := redmine.IssueCreate{ProjectID: proj.ID, TrackerID: t.ID, Subject: probeSubject, Description: p.description()}
	cf := p.cfg.Redmine.CustomFields.MandateNumber
	if cf != 0 {
		in.CustomFields = []redmine.CustomFieldSet{{ID: cf, Value: p.marker}}
	}
	is, err := p.rm.CreateIssue(ctx, in)
	if err != nil {
		p.fail("creating a %s ticket in %s as the sync user: %v (expected 201: the sync user's role needs \"Add issues\" there and the tracker enabled)", t.Name, where, err)
		return 0
	}
	p.created = append(p.created, probeIssue{is.ID, proj.ID})
	p.note("created mandate ticket #%d (%s) in %s", is.ID, t.Name, where)
	if cf != 0 {
		got, err := p.rm.GetIssue(ctx, is.ID)
		switch {
		case err != nil:
			p.fail("reading back issue #%d in %s: %v", is.ID, where, err)
		case got.CustomField(cf) != p.marker:
			p.fail("issue #%d in %s: custom field %d (redmine.custom_fields.mandate_number) was not kept (got %q, want %q): expected it to exist, be enabled for tracker %s and editable by the sync user", is.ID, where, cf, got.CustomField(cf), p.marker, t.Name)
		default:
			found, err := p.rm.FindByCustomField(ctx, cf, p.marker, t.ID)
			if err != nil || len(found) != 1 || found[0].ID != is.ID {
				p.fail("filtering issues by custom field %d (redmine.custom_fields.mandate_number) = %s did not find #%d (found %v, %v): expected the field to be \"used as a filter\"", cf, p.marker, is.ID, ids(found), err)
			}
		}
	}
	return is.ID
}

// request creates an issue as the sync worker does for cat (tracker,
// priority, assignee, parent, reference custom field, an attachment) and
// reads it back; full also checks the filter on the reference, the status
// changes the sync makes, a public note and, when escalations write one, a
// private note.
func (p *prober) request(ctx context.Context, cat config.Category, parent redmine.IssueID, full bool) {
	where := fmt.Sprintf("project %q (category %s)", cat.Redmine.Project, cat.ID)
	if _, ok := p.dir.Projects[cat.Redmine.Project]; !ok {
		p.fail("no write round-trip in %s: the project cannot be read", where)
		return
	}
	rule, err := bridge.ResolveRule(cat, p.dir)
	if err != nil {
		p.fail("no write round-trip in %s: %v", where, err)
		return
	}
	if cat.Redmine.Parent == config.ParentMandate && parent == 0 {
		p.fail("no write round-trip in %s: its mandate ticket could not be created", where)
		return
	}
	token, err := p.rm.Upload(ctx, "passerelle-probe.txt", []byte("passerelle probe\n"))
	if err != nil {
		p.fail("uploading a file as the sync user: %v (expected 201 from POST /uploads.json: the role needs \"Add issues\" or \"Edit issues\", and the file under Redmine's attachment size limit)", err)
	}
	in := redmine.IssueCreate{ProjectID: rule.ProjectID, TrackerID: rule.TrackerID, PriorityID: rule.PriorityID,
		AssignedToID: rule.AssigneeID, ParentIssueID: parent, Subject: probeSubject, Description: p.description()}
	ref := p.cfg.Redmine.CustomFields.Reference
	if ref != 0 {
		in.CustomFields = append(in.CustomFields, redmine.CustomFieldSet{ID: ref, Value: p.marker})
	}
	if token != "" {
		in.Uploads = []redmine.UploadRef{{Token: token, Filename: "passerelle-probe.txt", ContentType: "text/plain"}}
	}
	is, err := p.rm.CreateIssue(ctx, in)
	if err != nil {
		p.fail("creating an issue in %s (tracker %s) as the sync user: %v (expected 201: the sync user's role needs \"Add issues\" there)", where, cat.Redmine.Tracker, err)
		return
	}
	p.created = append(p.created, probeIssue{is.ID, rule.ProjectID})
	p.note("created issue #%d in %s", is.ID, where)
	got, err := p.rm.GetIssue(ctx, is.ID, "attachments")
	if err != nil {
		p.fail("reading back issue #%d in %s as the sync user: %v (expected 200: the role needs \"View issues\")", is.ID, where, err)
		return
	}
	kept := []string{"tracker"}
	if got.Tracker.ID != rule.TrackerID {
		p.fail("issue #%d: tracker %s not kept (got %q)", is.ID, cat.Redmine.Tracker, got.Tracker.Name)
	}
	if rule.AssigneeID != 0 {
		if got.AssignedTo == nil || got.AssignedTo.ID != rule.AssigneeID {
			p.fail("issue #%d in %s: assignee %d (%s) was dropped (got %v): expected a member of the project with an assignable role; for a group, the setting \"Allow issue assignment to groups\" on", is.ID, where, rule.AssigneeID, cat.Redmine.Assignee.Name, got.AssignedTo)
		} else {
			kept = append(kept, "assignee")
		}
	}
	if parent != 0 {
		if got.ParentID() != parent {
			p.fail("issue #%d in %s: parent #%d was dropped (got %d): expected the sync user's role to have \"Manage subtasks\" (manage_subtasks)", is.ID, where, parent, got.ParentID())
		} else {
			kept = append(kept, "parent")
		}
	}
	if ref != 0 {
		if got.CustomField(ref) != p.marker {
			p.fail("issue #%d in %s: custom field %d (redmine.custom_fields.reference) was not kept (got %q, want %q): expected it to exist, be enabled for tracker %s in this project and editable by the sync user", is.ID, where, ref, got.CustomField(ref), p.marker, cat.Redmine.Tracker)
		} else {
			kept = append(kept, "reference")
		}
	}
	if due := p.cfg.Redmine.CustomFields.ResponseDue; due != 0 && !hasCustomField(got, due) {
		p.fail("issue #%d in %s: custom field %d (redmine.custom_fields.response_due) is not on its issues: expected it enabled for tracker %s in this project", is.ID, where, due, cat.Redmine.Tracker)
	}
	if token != "" {
		if len(got.Attachments) != 1 {
			p.fail("issue #%d in %s: the attachment was dropped (%d attachments)", is.ID, where, len(got.Attachments))
		} else {
			kept = append(kept, "attachment")
		}
	}
	p.note("issue #%d kept: %s", is.ID, strings.Join(kept, ", "))
	if !full {
		return
	}
	if ref != 0 {
		found, err := p.rm.FindByCustomField(ctx, ref, p.marker, 0)
		if err != nil || len(found) != 1 || found[0].ID != is.ID {
			p.fail("filtering issues by custom field %d (redmine.custom_fields.reference) = %s did not find #%d (found %v, %v): expected the field to be \"used as a filter\" (Passerelle finds its issues again by it after a crash)", ref, p.marker, is.ID, ids(found), err)
		}
	}
	p.status(ctx, is.ID, "redmine.reopen_status", p.cfg.Redmine.ReopenStatus, cat)
	p.noteRoundTrip(ctx, is.ID, false)
	if p.cfg.Deadlines.Escalation.WritesNote() {
		p.noteRoundTrip(ctx, is.ID, true)
	}
	p.status(ctx, is.ID, "redmine.client_closed_status", p.cfg.Redmine.ClientClosedStatus, cat)
}

// status sets a status the sync sets and checks the workflow let it.
func (p *prober) status(ctx context.Context, id redmine.IssueID, key, name string, cat config.Category) {
	st, ok := p.dir.Status(name)
	if !ok {
		p.fail("%s: Redmine has no status %q", key, name)
		return
	}
	if err := p.rm.UpdateIssue(ctx, id, redmine.IssueUpdate{StatusID: st.ID}); err != nil {
		p.fail("issue #%d: setting status %q (%s): %v", id, name, key, err)
		return
	}
	got, err := p.rm.GetIssue(ctx, id)
	if err != nil {
		p.fail("issue #%d: reading it back after the status change: %v", id, err)
		return
	}
	if got.Status.ID != st.ID {
		p.fail("issue #%d: status %q (%s) was refused silently (still %q): expected a workflow for tracker %s that lets the sync user's role go from %q to %q", id, name, key, got.Status.Name, cat.Redmine.Tracker, got.Status.Name, name)
		return
	}
	p.note("issue #%d: status %q set (%s)", id, name, key)
}

// noteRoundTrip adds a note (private: as the escalation does) and checks it is
// there, with the privacy asked.
func (p *prober) noteRoundTrip(ctx context.Context, id redmine.IssueID, private bool) {
	kind, text := "public", "passerelle probe: note publique"
	if private {
		kind, text = "private", "passerelle probe: note privée"
	}
	if err := p.rm.UpdateIssue(ctx, id, redmine.IssueUpdate{Notes: text, PrivateNotes: private}); err != nil {
		p.fail("issue #%d: adding a %s note: %v (expected 204: the role needs \"Add notes\"%s)", id, kind, err, map[bool]string{true: " and \"Set notes as private\"", false: ""}[private])
		return
	}
	got, err := p.rm.GetIssue(ctx, id, "journals")
	if err != nil {
		p.fail("issue #%d: reading its journals: %v", id, err)
		return
	}
	for _, j := range got.Journals {
		if j.Notes == text {
			if j.PrivateNotes != private {
				p.fail("issue #%d: the %s note came back with private_notes=%v: expected the sync user's role to have \"Set notes as private\" (deadlines.escalation.private_note)", id, kind, j.PrivateNotes)
				return
			}
			p.note("issue #%d: %s note written and read back", id, kind)
			return
		}
	}
	p.fail("issue #%d: the %s note is not in its journals after the update", id, kind)
}

func (p *prober) description() string {
	return fmt.Sprintf("Created by `passerelle check --live --probe` (%s) to check that Redmine keeps what Passerelle writes as the sync user. The probe deletes it when it ends; if you see it, it could not: delete it.", p.marker)
}

func hasCustomField(is redmine.Issue, id int) bool {
	for _, cf := range is.CustomFields {
		if cf.ID == id {
			return true
		}
	}
	return false
}

func ids(list []redmine.Issue) []redmine.IssueID {
	out := make([]redmine.IssueID, 0, len(list))
	for _, is := range list {
		out = append(out, is.ID)
	}
	return out
}
