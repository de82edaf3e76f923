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
	JournalID int
	At        time.Time
	// Note is set for a public staff note.
	Note   string
	Author string
	// Attachments were added publicly in that journal.
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
// Attachments are passed on only when a visible public journal added them,
// since an attachment added with a private note is invisible in the journals.
func PlanChanges(cfg *config.Config, issue redmine.Issue, syncUserID int, statusName func(id int) (string, bool)) []Change {
	byID := make(map[int]redmine.Attachment, len(issue.Attachments))
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
				if a, ok := byID[id]; ok {
					c.Attachments = append(c.Attachments, a)
				}
			}
		}
		if c.Note != "" || c.Status != "" || len(c.Attachments) > 0 {
			out = append(out, c)
		}
	}
	return out
}
