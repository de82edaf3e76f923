package espaceclient

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
	"passerelle/kratos"
	"passerelle/redmine"
)

// Identity is the authenticated client behind a Kratos session (see
// kratos.Identity: role, lots and mandates come from metadata_public only).
type Identity = kratos.Identity

// Request is a client request (a dossier) as stored.
type Request struct {
	ID             string              `json:"id"`
	Reference      string              `json:"reference"`
	IdentityID     string              `json:"-"`
	AuthorRole     config.Role         `json:"author_role"`
	AuthorName     string              `json:"author_name"`
	AuthorEmail    string              `json:"-"`
	Category       string              `json:"category"`
	CategoryLabel  string              `json:"category_label,omitempty"`
	Subject        string              `json:"subject"`
	Location       string              `json:"location,omitempty"`
	Urgency        string              `json:"urgency,omitempty"`
	Payer          string              `json:"payer,omitempty"`
	Lot            string              `json:"lot,omitempty"`
	Mandate        string              `json:"mandate,omitempty"`
	Status         config.ClientStatus `json:"status"`
	RedmineStatus  string              `json:"-"`
	RedmineIssueID *redmine.IssueID    `json:"redmine_issue_id"`
	// MirrorError is why mirroring failed for good; staff-facing only.
	MirrorError string `json:"-"`
	// NeedsAttention says why the request reached Redmine without its expected
	// parent (no mandate ticket found); staff-facing only.
	NeedsAttention  string     `json:"-"`
	LinkedRequestID *string    `json:"linked_request_id,omitempty"`
	DueAt           *time.Time `json:"due_at"`
	// DueLabel is DueAt written for the client, in French.
	DueLabel  string     `json:"due_label,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at"`
	Messages  []Message  `json:"messages,omitempty"`
}

// Author kinds of a message.
const (
	AuthorClient = "client"
	AuthorStaff  = "staff"
	AuthorSystem = "system"
)

// Message kinds.
const (
	KindMessage  = "message"
	KindStatus   = "status"
	KindAck      = "ack"
	KindClosed   = "closed"
	KindReopened = "reopened"
)

// Message is one entry of a request's thread.
type Message struct {
	ID         string `json:"id"`
	RequestID  string `json:"-"`
	AuthorKind string `json:"author_kind"`
	Kind       string `json:"kind"`
	AuthorName string `json:"author_name"`
	IdentityID string `json:"-"`
	Body       string `json:"body"`
	// BodyHTML is Body rendered safely (see RenderText), for pages.
	BodyHTML         string              `json:"body_html"`
	ClientStatus     config.ClientStatus `json:"client_status,omitempty"`
	Source           string              `json:"-"`
	RedmineJournalID *redmine.JournalID  `json:"-"`
	// Reopens is set on a client follow-up written on a closed request: its
	// note reopens the Redmine issue.
	Reopens     bool         `json:"-"`
	MirroredAt  *time.Time   `json:"-"`
	CreatedAt   time.Time    `json:"created_at"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment is a file on a message. Data is loaded only when asked for.
type Attachment struct {
	ID                  string                `json:"id"`
	MessageID           string                `json:"-"`
	RequestID           string                `json:"-"`
	Filename            string                `json:"filename"`
	ContentType         string                `json:"content_type"`
	Size                int64                 `json:"size"`
	SHA256              []byte                `json:"-"`
	Data                []byte                `json:"-"`
	RedmineAttachmentID *redmine.AttachmentID `json:"-"`
	URL                 string                `json:"url"`
}

// Outbox is what the customer space calls, inside the transaction that
// stores a client's action, so the bridge can enqueue its mirroring job in that
// same transaction (a message the client saw accepted is never lost). The
// bridge implements it with River's InsertTx.
type Outbox interface {
	// RequestCreated is called when a request and its first message are stored.
	RequestCreated(ctx context.Context, tx pgx.Tx, req Request, first Message) error
	// MessageAdded is called when a client follow-up is stored. reopen is true
	// when the request was closed and the message reopens it.
	MessageAdded(ctx context.Context, tx pgx.Tx, req Request, msg Message, reopen bool) error
	// RequestClosed is called when the client closes a request; msg is the
	// "closed" thread event.
	RequestClosed(ctx context.Context, tx pgx.Tx, req Request, msg Message) error
}
