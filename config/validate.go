package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Defaults that the seeds or Redmine impose.
const (
	DefaultListen         = "127.0.0.1:8080"
	DefaultAdminListen    = "127.0.0.1:9090"
	DefaultMaxFileSize    = ByteSize(5 << 20) // Redmine's default attachment_max_size, 5120 KB
	DefaultMaxFiles       = 5
	DefaultMaxBodyLength  = 10000
	DefaultMaxSubjectLen  = 150
	DefaultRedmineTimeout = 20 * time.Second
	DefaultPollInterval   = 10 * time.Second
	DefaultPollOverlap    = 2 * time.Minute
	DefaultRetryBudget    = 72 * time.Hour
	DefaultMaxRetryDelay  = 5 * time.Minute
	// DefaultWorkers is redmine.workers' default, the bridge's previous fixed
	// value (docs/BENCHMARKS.md, section 1, measures 1, 2, 4 and 8).
	DefaultWorkers         = 4
	DefaultInboundTolerate = 5 * time.Minute
)

// AdminListenNone as admin_listen turns the admin listener (/metrics) off.
const AdminListenNone = "none"

func (c *Config) applyDefaults() {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.Listen, DefaultListen)
	def(&c.AdminListen, DefaultAdminListen)
	def(&c.PublicURL, "http://"+c.Listen)
	def(&c.LogLevel, "info")
	def(&c.ReferencePrefix, "D")
	if c.Database.MaxConns == 0 {
		c.Database.MaxConns = 10
	}
	r := &c.Redmine
	if r.Timeout == 0 {
		r.Timeout = DefaultRedmineTimeout
	}
	if r.PollInterval == 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.PollOverlap == 0 {
		r.PollOverlap = DefaultPollOverlap
	}
	if r.RetryBudget == 0 {
		r.RetryBudget = DefaultRetryBudget
	}
	if r.MaxRetryDelay == 0 {
		r.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if r.Workers == 0 {
		r.Workers = DefaultWorkers
	}
	def(&r.MandateTracker, "Mandat")
	def(&r.OnClientMessageAfterClose, "reopen")
	def(&r.StaffSignature, "first_name")
	def(&r.GenericSignature, "Votre gestionnaire")
	def(&c.SMTP.TLS, "starttls")
	u := &c.Uploads
	if u.MaxFileSize == 0 {
		u.MaxFileSize = DefaultMaxFileSize
	}
	if u.MaxFiles == 0 {
		u.MaxFiles = DefaultMaxFiles
	}
	if u.MaxBodyLength == 0 {
		u.MaxBodyLength = DefaultMaxBodyLength
	}
	if u.MaxSubjectLength == 0 {
		u.MaxSubjectLength = DefaultMaxSubjectLen
	}
	c.Limits.applyDefaults(c.Uploads)
	if c.Webhooks.InboundTolerance == 0 {
		c.Webhooks.InboundTolerance = DefaultInboundTolerate
	}
	if c.Statuses.Default == "" {
		c.Statuses.Default = StatusInProgress
	}
	c.Calendar.applyDefaults()
	c.Deadlines.applyDefaults()
	c.Notifications.applyDefaults()
}

func (c *Config) loadSecrets(v *validator) {
	load := func(path, env, file string, dst *Secret) {
		s, err := loadSecret(env, file)
		if err != nil {
			v.errf(path, "%v (or set %s)", err, env)
			return
		}
		*dst = s
	}
	if env, ok := lookupEnv("PASSERELLE_DATABASE_URL"); ok {
		c.Database.URL = Secret(env)
	}
	load("redmine.api_key_file", "PASSERELLE_REDMINE_API_KEY", c.Redmine.APIKeyFile, &c.Redmine.APIKey)
	load("smtp.password_file", "PASSERELLE_SMTP_PASSWORD", c.SMTP.PasswordFile, &c.SMTP.Password)
	load("webhooks.redmine_secret_file", "PASSERELLE_REDMINE_WEBHOOK_SECRET", c.Webhooks.RedmineSecretFile, &c.Webhooks.RedmineSecret)
	load("webhooks.inbound_secret_file", "PASSERELLE_INBOUND_WEBHOOK_SECRET", c.Webhooks.InboundSecretFile, &c.Webhooks.InboundSecret)
	c.Webhooks.loadOutboundSecrets(v)
}

var referencePrefixRe = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,9}$`)

var categoryIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// requestFields are the optional request fields a category may require.
var requestFields = map[string]bool{"lot": true, "location": true, "payer": true, "urgency": true, "mandate": true}

func (c *Config) validate(v *validator) {
	checkURL := func(path, raw string, required bool) {
		if raw == "" {
			if required {
				v.errf(path, "required: expected an http(s) URL")
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errf(path, "%q is not an http(s) URL such as http://127.0.0.1:3000", raw)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		v.errf("listen", "%q is not a host:port address such as 127.0.0.1:8080", c.Listen)
	}
	if c.AdminListen != AdminListenNone {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			v.errf("admin_listen", "%q is not a host:port address such as 127.0.0.1:9090 (or none to turn the admin listener off)", c.AdminListen)
		} else if c.AdminListen == c.Listen {
			v.errf("admin_listen", "%q is also listen: expected another address, so that /metrics is never served to clients", c.AdminListen)
		}
	}
	checkURL("public_url", c.PublicURL, true)
	if !referencePrefixRe.MatchString(c.ReferencePrefix) {
		v.errf("reference_prefix", "%q: expected 1 to 10 capital letters or digits, starting with a letter, such as D", c.ReferencePrefix)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.errf("log_level", "%q is not a log level: expected debug, info, warn or error", c.LogLevel)
	}
	if c.Database.URL == "" {
		v.errf("database.url", "required: expected a postgres:// URL (or set PASSERELLE_DATABASE_URL)")
	} else if u, err := url.Parse(c.Database.URL.Reveal()); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		v.errf("database.url", "not a postgres:// URL")
	}

	r := c.Redmine
	checkURL("redmine.url", r.URL, true)
	if r.APIKey == "" {
		v.errf("redmine.api_key_file", "required: expected the path of a file holding the sync user's API key (or set PASSERELLE_REDMINE_API_KEY)")
	}
	if r.PollInterval < time.Second {
		v.errf("redmine.poll_interval", "%s is too short: expected at least 1s", r.PollInterval)
	}
	if r.PollOverlap < 0 {
		v.errf("redmine.poll_overlap", "must not be negative")
	}
	if r.RetryBudget < 0 {
		v.errf("redmine.retry_budget", "must not be negative: expected a duration such as 72h")
	}
	if r.MaxRetryDelay < 0 || (r.MaxRetryDelay > 0 && r.MaxRetryDelay < time.Second) {
		v.errf("redmine.max_retry_delay", "%s: expected a duration of at least 1s, such as 5m", r.MaxRetryDelay)
	}
	if r.Workers < 0 || r.Workers > 64 {
		v.errf("redmine.workers", "%d: expected a number of concurrent sync jobs from 1 to 64", r.Workers)
	}
	if r.CustomFields.Reference <= 0 {
		v.errf("redmine.custom_fields.reference", "required: expected the id of the custom field \"Réf. espace client\" (Administration → Custom fields, the number in its URL)")
	}
	if r.ClientClosedStatus == "" {
		v.errf("redmine.client_closed_status", "required: expected the Redmine status set when a client closes a request, such as Closed")
	}
	if r.ReopenStatus == "" {
		v.errf("redmine.reopen_status", "required: expected the Redmine status set when a client writes on a closed request, such as \"In Progress\"")
	}
	if r.OnClientMessageAfterClose != "reopen" && r.OnClientMessageAfterClose != "new_request" {
		v.errf("redmine.on_client_message_after_close", "%q: expected reopen or new_request", r.OnClientMessageAfterClose)
	}
	if r.StaffSignature != "first_name" && r.StaffSignature != "generic" {
		v.errf("redmine.staff_signature", "%q: expected first_name or generic", r.StaffSignature)
	}

	checkURL("kratos.public_url", c.Kratos.PublicURL, true)
	checkURL("kratos.browser_url", c.Kratos.BrowserURL, false)
	checkURL("kratos.admin_url", c.Kratos.AdminURL, true)

	if c.SMTP.Addr != "" {
		if _, _, err := net.SplitHostPort(c.SMTP.Addr); err != nil {
			v.errf("smtp.addr", "%q is not a host:port address such as 127.0.0.1:587", c.SMTP.Addr)
		}
		if c.SMTP.From == "" {
			v.errf("smtp.from", "required when smtp.addr is set: expected a sender such as \"Agence <no-reply@agence.fr>\"")
		}
	}
	// Checked even with smtp.addr empty: a from that cannot be parsed would
	// make every alert e-mail fail for good once the server is set.
	if c.SMTP.From != "" {
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			v.errf("smtp.from", "%q is not an e-mail address (%v): expected a sender such as \"Agence <no-reply@agence.fr>\" or no-reply@agence.fr", c.SMTP.From, err)
		}
	}
	switch c.SMTP.TLS {
	case "none", "starttls", "tls":
	default:
		v.errf("smtp.tls", "%q: expected none, starttls or tls", c.SMTP.TLS)
	}

	if c.Uploads.MaxFileSize < 1024 {
		v.errf("uploads.max_file_size", "%s is too small: expected at least 1KiB", c.Uploads.MaxFileSize)
	}
	if c.Uploads.MaxFiles < 0 || c.Uploads.MaxFiles > 20 {
		v.errf("uploads.max_files", "%d: expected between 1 and 20", c.Uploads.MaxFiles)
	}

	valid := map[ClientStatus]bool{StatusNew: true, StatusInProgress: true, StatusWaitingClient: true, StatusClosed: true}
	if len(c.Statuses.Map) == 0 {
		v.errf("statuses.map", "required: expected a mapping from Redmine status names to new, in_progress, waiting_client or closed")
	}
	keys := make([]string, 0, len(c.Statuses.Map))
	for k := range c.Statuses.Map {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !valid[c.Statuses.Map[k]] {
			v.errf("statuses.map."+k, "%q is not a client status: expected new, in_progress, waiting_client or closed", c.Statuses.Map[k])
		}
	}
	if !valid[c.Statuses.Default] {
		v.errf("statuses.default", "%q is not a client status: expected new, in_progress, waiting_client or closed", c.Statuses.Default)
	}
	if cs, ok := c.Statuses.Map[r.ClientClosedStatus]; r.ClientClosedStatus != "" && (!ok || cs != StatusClosed) {
		v.errf("redmine.client_closed_status", "%q must be mapped to closed in statuses.map", r.ClientClosedStatus)
	}

	c.Limits.validate(v, "limits", c.Uploads)
	c.checkSecrets(v)

	c.Calendar.validate(v, "calendar")
	c.Deadlines.validate(v, "deadlines")
	c.Notifications.validate(v, "notifications")
	c.Webhooks.validateOutbound(v)

	if len(c.Categories) == 0 {
		v.errf("categories", "required: expected at least one client category (see config/example.yaml)")
	}
	seen := map[string]int{}
	for i, cat := range c.Categories {
		p := fmt.Sprintf("categories[%d]", i)
		if !categoryIDRe.MatchString(cat.ID) {
			v.errf(p+".id", "%q: expected a short identifier of lowercase letters, digits, - or _ (such as travaux)", cat.ID)
		} else if j, dup := seen[cat.ID]; dup {
			v.errf(p+".id", "%q is already the id of categories[%d]", cat.ID, j)
		}
		seen[cat.ID] = i
		if strings.TrimSpace(cat.Label) == "" {
			v.errf(p+".label", "required: expected the French label shown to clients")
		}
		if len(cat.Roles) == 0 {
			v.errf(p+".roles", "required: expected the roles that may use it, among tenant and owner")
		}
		for j, role := range cat.Roles {
			if role != RoleTenant && role != RoleOwner {
				v.errf(fmt.Sprintf("%s.roles[%d]", p, j), "%q is not a role: expected tenant or owner", role)
			}
		}
		for j, f := range cat.Requires {
			if !requestFields[f] {
				v.errf(fmt.Sprintf("%s.requires[%d]", p, j), "%q is not a request field: expected lot, location, payer, urgency or mandate", f)
			}
		}
		rr := cat.Redmine
		if rr.Project == "" {
			v.errf(p+".redmine.project", "required: expected a Redmine project identifier such as gestion-locative")
		}
		if rr.Tracker == "" {
			v.errf(p+".redmine.tracker", "required: expected a Redmine tracker name")
		}
		if rr.Assignee.Group != 0 && rr.Assignee.User != 0 {
			v.errf(p+".redmine.assignee", "set group or user, not both")
		}
		if rr.Assignee.Group < 0 || rr.Assignee.User < 0 {
			v.errf(p+".redmine.assignee", "expected a positive Redmine id")
		}
		switch rr.Parent {
		case "":
		case ParentMandate:
			if r.CustomFields.MandateNumber <= 0 {
				v.errf("redmine.custom_fields.mandate_number", "required because %s.redmine.parent is mandate: expected the id of the custom field \"N° mandat\"", p)
			}
			if !cat.Allows(RoleOwner) || cat.Allows(RoleTenant) {
				v.errf(p+".roles", "a category with parent: mandate is for owners only: expected [owner]")
			}
		default:
			v.errf(p+".redmine.parent", "%q: expected mandate or nothing", rr.Parent)
		}
		if cat.Deadlines != nil {
			cat.Deadlines.validate(v, p+".deadlines")
		}
	}
	c.validateDeadlineRefs(v)
}
