package bridge

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"passerelle/config"
	"passerelle/redmine"
)

// This file holds the pure converters from Redmine to the customer space:
// which journals of an issue become staff messages, status events and
// attachments. The poller and the webhook nudge (poller.go) apply them.

// Change is one thing an issue's history brings to the customer space.
type Change struct {
	JournalID redmine.JournalID
	At        time.Time
	// Note is set for a public staff note.
	Note   string
	Author string
	// Attachments were published in that journal: attached in the same
	// update as its public Note (never set without a Note).
	Attachments []redmine.Attachment
	// Status is set when the journal changed the status (a Redmine status name).
	Status       string
	ClientStatus config.ClientStatus
}

// Signature is how a staff member signs for clients.
func Signature(cfg *config.Config, staffName string) string {
	if cfg.Redmine.StaffSignature == "generic" {
		return cfg.Redmine.GenericSignature
	}
	if f := strings.Fields(staffName); len(f) > 0 {
		return f[0]
	}
	return cfg.Redmine.GenericSignature
}

// PlanChanges lists, in journal order, what an issue's journals bring to
// the client. It never returns a private note (the sync user should not even
// see them; this is the second guard) nor anything written by the sync user
// itself (the client's own messages must not come back as staff messages).
//
// Documents: a file reaches the client only when staff published it, that is
// attached it in the same update as a public note (one journal holding both
// the note and the attachment detail). A journal that adds files without a
// public note never passes them on: that is what Redmine makes of a file
// attached with a private note (see below), and also of a file attached
// alone, and the sync user cannot always tell the two apart. Its status
// change, if any, still passes (the status is public either way). Files
// attached when the issue was created (issue.Attachments with no journal
// detail) are never passed on either: the issue is created by the sync user
// with the client's own files, and nothing here reads them.
//
// Redmine fact (5.0.4, checked on the stack as staff, REST PUT
// /issues/N.json, read back with the sync user's key and the staff key):
//   - notes + private_notes:true + uploads (optionally status_id): Redmine
//     (Journal#split_private_notes) stores TWO journals: first a public one
//     with notes null and the attachment and status details, then the
//     private one with the notes and no details. The sync user sees only
//     the first: {"notes":null,"private_notes":false,"details":[{"property":
//     "attachment",...}]}; the attachment is listed in issue.attachments.
//   - notes (public) + uploads (+ status_id): ONE journal holding the notes,
//     the attachment details and the status detail. A public note is never
//     split from its files.
//   - uploads without notes: one public journal with notes "" and the
//     attachment detail.
//   - private_notes:true without notes gives a public journal (Redmine:
//     "blank notes should not be private").
//   - A public note with a file, later made private (PUT /journals/N.json
//     {"private_notes":true}, or the edit link): the journal keeps its
//     attachment detail and simply disappears for the sync user; the
//     issue's updated_on does not move and journals have no updated_on (the
//     split is a before_create callback, app/models/journal.rb). Passerelle
//     cannot notice it: what was passed on stays in the customer space.
func PlanChanges(cfg *config.Config, issue redmine.Issue, syncUserID int, statusName func(id int) (string, bool)) []Change {
	byID := make(map[redmine.AttachmentID]redmine.Attachment, len(issue.Attachments))
	for _, a := range issue.Attachments {
		byID[a.ID] = a
	}
	journals := append([]redmine.Journal(nil), issue.Journals...)
	sort.Slice(journals, func(i, j int) bool { return journals[i].ID < journals[j].ID })
	var out []Change
	for _, j := range journals {
		if j.PrivateNotes || j.User.ID == syncUserID {
			continue
		}
		c := Change{JournalID: j.ID, At: j.CreatedOn, Author: Signature(cfg, j.User.Name)}
		if strings.TrimSpace(j.Notes) != "" {
			c.Note = j.Notes
		}
		for _, d := range j.Details {
			switch {
			case d.Property == "attr" && d.Name == "status_id":
				id, err := strconv.Atoi(d.NewValue)
				if err != nil {
					continue
				}
				if name, ok := statusName(id); ok {
					c.Status = name
					c.ClientStatus = cfg.Statuses.ClientStatusOf(name)
				}
			case d.Property == "attachment" && d.NewValue != "":
				id, err := strconv.Atoi(d.Name)
				if err != nil {
					continue
				}
				if a, ok := byID[redmine.AttachmentID(id)]; ok {
					c.Attachments = append(c.Attachments, a)
				}
			}
		}
		if c.Note == "" {
			// Not published: attached alone, or split off a private note.
			c.Attachments = nil
		}
		if c.Note != "" || c.Status != "" {
			out = append(out, c)
		}
	}
	return out
}
