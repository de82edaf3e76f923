package redmine

import (
	"strconv"
	"time"
)

// IDName is a reference to a Redmine object by id and name.
type IDName struct {
	ID   int    `json:"id"`
	Name string `json:"name,omitempty"`
}

// CustomFieldValue is one custom field value of an issue.
type CustomFieldValue struct {
	ID    int    `json:"id"`
	Name  string `json:"name,omitempty"`
	Value any    `json:"value"`
}

// JournalDetail is one field change recorded in a journal.
type JournalDetail struct {
	Property string `json:"property"` // attr, cf, attachment, relation
	Name     string `json:"name"`     // status_id, assigned_to_id, attachment id...
	OldValue string `json:"old_value"`
	NewValue string `json:"new_value"`
}

// Journal is one update of an issue: a note, field changes, or both.
type Journal struct {
	ID           JournalID       `json:"id"`
	User         IDName          `json:"user"`
	Notes        string          `json:"notes"`
	CreatedOn    time.Time       `json:"created_on"`
	PrivateNotes bool            `json:"private_notes"`
	Details      []JournalDetail `json:"details"`
}

// Attachment is a file attached to an issue.
type Attachment struct {
	ID          AttachmentID `json:"id"`
	Filename    string       `json:"filename"`
	Filesize    int64        `json:"filesize"`
	ContentType string       `json:"content_type"`
	Description string       `json:"description"`
	ContentURL  string       `json:"content_url"`
	Author      IDName       `json:"author"`
	CreatedOn   time.Time    `json:"created_on"`
}

// Issue is a Redmine issue as read through the REST API.
type Issue struct {
	ID           IssueID               `json:"id"`
	Project      IDName                `json:"project"`
	Tracker      IDName                `json:"tracker"`
	Status       IDName                `json:"status"`
	Priority     IDName                `json:"priority"`
	Author       IDName                `json:"author"`
	AssignedTo   *IDName               `json:"assigned_to"`
	Parent       *struct{ ID IssueID } `json:"parent"`
	Subject      string                `json:"subject"`
	Description  string                `json:"description"`
	CustomFields []CustomFieldValue    `json:"custom_fields"`
	CreatedOn    time.Time             `json:"created_on"`
	UpdatedOn    time.Time             `json:"updated_on"`
	ClosedOn     *time.Time            `json:"closed_on"`
	Journals     []Journal             `json:"journals"`
	Attachments  []Attachment          `json:"attachments"`
	// ServerTime is Redmine's clock when GetIssue read it (its Date header,
	// to the second); zero when unknown. Every change committed before that
	// instant is in this answer.
	ServerTime time.Time `json:"-"`
}

// CustomField returns the string value of a custom field, "" when absent.
func (i Issue) CustomField(id int) string {
	for _, cf := range i.CustomFields {
		if cf.ID == id {
			switch v := cf.Value.(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return ""
}

// ParentID returns the parent issue id, 0 when top-level.
func (i Issue) ParentID() IssueID {
	if i.Parent == nil {
		return 0
	}
	return i.Parent.ID
}

// UploadRef attaches an uploaded file to an issue create or update.
type UploadRef struct {
	Token       string `json:"token"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type,omitempty"`
	Description string `json:"description,omitempty"`
}

// CustomFieldSet sets a custom field on create or update.
type CustomFieldSet struct {
	ID    int    `json:"id"`
	Value string `json:"value"`
}

// IssueCreate is the body of POST /issues.json.
type IssueCreate struct {
	ProjectID     int              `json:"project_id"`
	TrackerID     int              `json:"tracker_id,omitempty"`
	StatusID      int              `json:"status_id,omitempty"`
	PriorityID    int              `json:"priority_id,omitempty"`
	Subject       string           `json:"subject"`
	Description   string           `json:"description,omitempty"`
	AssignedToID  int              `json:"assigned_to_id,omitempty"`
	ParentIssueID IssueID          `json:"parent_issue_id,omitempty"`
	CustomFields  []CustomFieldSet `json:"custom_fields,omitempty"`
	Uploads       []UploadRef      `json:"uploads,omitempty"`
}

// IssueUpdate is the body of PUT /issues/:id.json. Zero fields are not sent.
type IssueUpdate struct {
	Notes        string           `json:"notes,omitempty"`
	PrivateNotes bool             `json:"private_notes,omitempty"`
	StatusID     int              `json:"status_id,omitempty"`
	PriorityID   int              `json:"priority_id,omitempty"`
	CustomFields []CustomFieldSet `json:"custom_fields,omitempty"`
	Uploads      []UploadRef      `json:"uploads,omitempty"`
}

// User is a Redmine user.
type User struct {
	ID        int    `json:"id"`
	Login     string `json:"login"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	Mail      string `json:"mail"`
	Admin     bool   `json:"admin"`
}

// Status is a Redmine issue status.
type Status struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	IsClosed bool   `json:"is_closed"`
}

// Project is a Redmine project.
type Project struct {
	ID         int      `json:"id"`
	Name       string   `json:"name"`
	Identifier string   `json:"identifier"`
	Trackers   []IDName `json:"trackers"`
	// IssueCustomFields is filled when asked with include=issue_custom_fields.
	IssueCustomFields []IDName `json:"issue_custom_fields"`
}

// Group is a Redmine group with its members (admin API only).
type Group struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Users []IDName `json:"users"`
}
