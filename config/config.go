package config

import (
	"fmt"
	"net/url"
	"time"
)

// Role is the kind of client a Kratos identity stands for.
type Role string

// The client roles. They come from the identity's metadata_public.
const (
	RoleTenant Role = "tenant"
	RoleOwner  Role = "owner"
)

// ClientStatus is the status a client sees in the customer space.
type ClientStatus string

// The four client statuses of the customer-space contract.
const (
	StatusNew           ClientStatus = "new"
	StatusInProgress    ClientStatus = "in_progress"
	StatusWaitingClient ClientStatus = "waiting_client"
	StatusClosed        ClientStatus = "closed"
)

// Config is the whole, validated configuration of one Passerelle instance.
type Config struct {
	// Listen is the HTTP listen address of the customer space and the hooks.
	Listen string `yaml:"listen"`
	// AdminListen is the HTTP listen address of /metrics and of the admin
	// pages to come, never served on Listen (default 127.0.0.1:9090, loopback:
	// keep it off the customer-facing network). "none" turns it off.
	AdminListen string `yaml:"admin_listen"`
	// PublicURL is the address clients use to reach the customer space.
	PublicURL string `yaml:"public_url"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `yaml:"log_level"`
	// ReferencePrefix starts every dossier reference (default "D":
	// D-2026-000123). Instances sharing one Redmine need distinct prefixes.
	ReferencePrefix string        `yaml:"reference_prefix"`
	Database        Database      `yaml:"database"`
	Redmine         Redmine       `yaml:"redmine"`
	Kratos          Kratos        `yaml:"kratos"`
	SMTP            SMTP          `yaml:"smtp"`
	Uploads         Uploads       `yaml:"uploads"`
	Limits          Limits        `yaml:"limits"`
	Webhooks        Webhooks      `yaml:"webhooks"`
	Calendar        Calendar      `yaml:"calendar"`
	Statuses        Statuses      `yaml:"statuses"`
	Deadlines       Deadlines     `yaml:"deadlines"`
	Notifications   Notifications `yaml:"notifications"`
	Categories      []Category    `yaml:"categories"`

	// File is the path the configuration was read from.
	File string `yaml:"-"`
}

// Database says where Passerelle's PostgreSQL database is.
type Database struct {
	// URL is a postgres:// URL. PASSERELLE_DATABASE_URL overrides it; its
	// password is masked in String().
	URL Secret `yaml:"url"`
	// MaxConns caps the connection pool (default 10).
	MaxConns int32 `yaml:"max_conns"`
}

// Redmine describes the agency's Redmine and how Passerelle talks to it.
type Redmine struct {
	URL string `yaml:"url"`
	// APIKeyFile holds the sync user's API key; PASSERELLE_REDMINE_API_KEY overrides it.
	APIKeyFile string `yaml:"api_key_file"`
	APIKey     Secret `yaml:"-"`
	// Timeout bounds one HTTP call to Redmine (default 20s).
	Timeout time.Duration `yaml:"timeout"`
	// PollInterval is how often the poller lists changed issues (default 10s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// PollOverlap is how late a change may become visible in Redmine after
	// its updated_on (a slow transaction) and still be seen: once per
	// overlap a poll re-reads that far before the previous re-read; every
	// poll reads 2 s before its cursor (bridge/poller_wide.go). Default 2m.
	PollOverlap time.Duration `yaml:"poll_overlap"`
	// RetryBudget is how long a client's action (a request, a follow-up, a
	// close) is retried while Redmine is down or failing before its mirroring
	// stops and is reported by `check --live` (default 72h: a weekend).
	RetryBudget time.Duration `yaml:"retry_budget"`
	// MaxRetryDelay caps the wait between two retries (default 5m).
	MaxRetryDelay time.Duration `yaml:"max_retry_delay"`
	// Workers is how many sync jobs (creations, notes, fetches) run at once
	// in one process, the River queue's MaxWorkers (default
	// DefaultWorkers; docs/BENCHMARKS.md measures the choice).
	Workers      int                 `yaml:"workers"`
	CustomFields RedmineCustomFields `yaml:"custom_fields"`
	// MandateTracker is the tracker of the owners' mandate tickets (default "Mandat").
	MandateTracker string `yaml:"mandate_tracker"`
	// ClientClosedStatus is the Redmine status set when a client closes a request.
	ClientClosedStatus string `yaml:"client_closed_status"`
	// ReopenStatus is the Redmine status set when a client writes on a closed request.
	ReopenStatus string `yaml:"reopen_status"`
	// OnClientMessageAfterClose is "reopen" (default) or "new_request".
	OnClientMessageAfterClose string `yaml:"on_client_message_after_close"`
	// StaffSignature is how staff notes are signed for clients: "first_name"
	// (default) or "generic" (then GenericSignature is used).
	StaffSignature   string `yaml:"staff_signature"`
	GenericSignature string `yaml:"generic_signature"`
}

// RedmineCustomFields holds the ids of the custom fields Passerelle writes.
// Ids, not names: a non-admin sync user cannot list custom fields.
type RedmineCustomFields struct {
	// Reference is "Réf. espace client" (string, used as a filter).
	Reference int `yaml:"reference"`
	// MandateNumber is "N° mandat" on mandate tickets (string, used as a filter).
	MandateNumber int `yaml:"mandate_number"`
	// ResponseDue is "Échéance réponse" (string); 0 disables it.
	ResponseDue int `yaml:"response_due"`
}

// Kratos locates the Ory Kratos that holds the clients' identities.
type Kratos struct {
	PublicURL string `yaml:"public_url"`
	// BrowserURL is where browsers reach Kratos' public API, when it differs
	// from PublicURL (the address this server uses, such as a private
	// network name): the self-service flows start there and the customer
	// space's pages may post their forms there. Empty: PublicURL.
	BrowserURL string `yaml:"browser_url"`
	// AdminURL must never be exposed: Kratos' admin API has no authentication.
	AdminURL string `yaml:"admin_url"`
}

// SMTP is the outgoing mail server.
type SMTP struct {
	Addr     string `yaml:"addr"`
	Username string `yaml:"username"`
	// PasswordFile holds the password; PASSERELLE_SMTP_PASSWORD overrides it.
	PasswordFile string `yaml:"password_file"`
	Password     Secret `yaml:"-"`
	// TLS is "none", "starttls" (default) or "tls".
	TLS  string `yaml:"tls"`
	From string `yaml:"from"`
}

// Uploads bounds what clients may attach.
type Uploads struct {
	// MaxFileSize is the largest accepted file (default 5MiB, Redmine's default).
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// MaxFiles is the most files on one message (default 5).
	MaxFiles int `yaml:"max_files"`
	// MaxBodyLength is the longest message text in characters (default 10000).
	MaxBodyLength int `yaml:"max_body_length"`
	// MaxSubjectLength is the longest subject in characters (default 150).
	MaxSubjectLength int `yaml:"max_subject_length"`
}

// Webhooks holds the secrets of the inbound hooks.
type Webhooks struct {
	// RedmineSecretFile authenticates POST /hooks/redmine;
	// PASSERELLE_REDMINE_WEBHOOK_SECRET overrides it.
	RedmineSecretFile string `yaml:"redmine_secret_file"`
	RedmineSecret     Secret `yaml:"-"`
	// InboundSecretFile signs POST /hooks/inbound (Standard Webhooks, "whsec_..." or raw);
	// PASSERELLE_INBOUND_WEBHOOK_SECRET overrides it.
	InboundSecretFile string `yaml:"inbound_secret_file"`
	InboundSecret     Secret `yaml:"-"`
	// InboundTolerance is the accepted clock skew of webhook-timestamp (default 5m).
	InboundTolerance time.Duration `yaml:"inbound_tolerance"`
	// Outbound are the endpoints told of every client-visible event (outbound.go).
	Outbound []OutboundWebhook `yaml:"outbound"`
}

// Statuses maps Redmine statuses to client statuses.
type Statuses struct {
	// Map goes from a Redmine status name to a client status. A status mapped
	// to waiting_client pauses the response clock.
	Map map[string]ClientStatus `yaml:"map"`
	// Default is the client status of a Redmine status absent from Map (default in_progress).
	Default ClientStatus `yaml:"default"`
}

// ClientStatusOf maps a Redmine status name to a client status.
func (s Statuses) ClientStatusOf(redmineStatus string) ClientStatus {
	if cs, ok := s.Map[redmineStatus]; ok {
		return cs
	}
	return s.Default
}

// Category is one kind of client request and its Redmine mapping rule.
type Category struct {
	// ID is the stable identifier used by the API (e.g. "travaux").
	ID string `yaml:"id"`
	// Label is the French label shown to clients.
	Label       string `yaml:"label"`
	Description string `yaml:"description"`
	// Roles may use this category.
	Roles []Role `yaml:"roles"`
	// Requires lists the request fields that must be filled: lot, location,
	// payer, urgency, mandate.
	Requires []string `yaml:"requires"`
	// SharedWithOwners lets the owners of a request's lot read it, read-only,
	// with the agency's public answers, when someone else (a tenant) filed it.
	// Default false: a tenant's rent dispute or neighbour complaint stays
	// between the tenant and the agency; the example configuration shares
	// repairs and works (travaux), as the agency's procedures do.
	SharedWithOwners bool        `yaml:"shared_with_owners"`
	Redmine          RedmineRule `yaml:"redmine"`
	// Deadlines overrides the deadline policy for this category (see Deadlines).
	Deadlines *CategoryDeadlines `yaml:"deadlines"`
}

// Allows tells whether a role may use the category.
func (c Category) Allows(r Role) bool {
	for _, x := range c.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Needs tells whether the category requires a field.
func (c Category) Needs(field string) bool {
	for _, f := range c.Requires {
		if f == field {
			return true
		}
	}
	return c.Redmine.Parent == ParentMandate && field == "mandate"
}

// ParentMandate is the parent rule that files a request as a subtask of the
// owner's mandate ticket.
const ParentMandate = "mandate"

// RedmineRule says where and how a category's requests land in Redmine.
type RedmineRule struct {
	// Project is the project identifier (e.g. "gestion-locative").
	Project string `yaml:"project"`
	// Tracker is the tracker name.
	Tracker string `yaml:"tracker"`
	// Priority is the priority name; empty keeps Redmine's default.
	Priority string `yaml:"priority"`
	// Assignee is a Redmine user or group.
	Assignee Assignee `yaml:"assignee"`
	// Parent is "" (top-level issue) or "mandate" (subtask of the owner's
	// mandate ticket, found by the "N° mandat" custom field).
	Parent string `yaml:"parent"`
}

// Assignee is a Redmine user or group, by id (a non-admin sync user cannot
// list users or groups). Name is only for humans and error messages.
type Assignee struct {
	Group int    `yaml:"group"`
	User  int    `yaml:"user"`
	Name  string `yaml:"name"`
}

// ID returns the Redmine principal id, 0 when none is set.
func (a Assignee) ID() int {
	if a.Group != 0 {
		return a.Group
	}
	return a.User
}

// Category returns the category with that id.
func (c *Config) Category(id string) (Category, bool) {
	for _, cat := range c.Categories {
		if cat.ID == id {
			return cat, true
		}
	}
	return Category{}, false
}

// String describes the configuration with every secret masked.
func (c *Config) String() string {
	return fmt.Sprintf("config{file=%s listen=%s admin_listen=%s public_url=%s database=%s redmine=%s redmine_key=%s kratos=%s smtp=%s smtp_password=%s redmine_webhook_secret=%s inbound_webhook_secret=%s categories=%d}",
		c.File, c.Listen, c.AdminListen, c.PublicURL, RedactURL(c.Database.URL.Reveal()), c.Redmine.URL, c.Redmine.APIKey,
		c.Kratos.PublicURL, c.SMTP.Addr, c.SMTP.Password, c.Webhooks.RedmineSecret, c.Webhooks.InboundSecret, len(c.Categories))
}

// RedactURL masks the password of a URL, for logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if raw == "" {
			return ""
		}
		return maskedSecret
	}
	q := u.Query()
	for _, k := range []string{"password", "key", "token"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}
