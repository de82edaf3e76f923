package espaceclient

import (
	"errors"
	"sync"
	"time"

	"passerelle/config"
)

// Service is the customer space's logic, shared by the JSON API and the signed
// inbound webhook: it validates what a client sends (all of it, before anything
// is stored), scopes every read and write to the client's identity, stores
// through Store and calls the Outbox in the same transaction.
//
// Errors meant for the client are *Error (with a French message); ErrNotFound
// becomes a 404 and anything else a 500.
type Service struct {
	store  *Store
	cfg    *config.Holder
	outbox Outbox
	now    func() time.Time

	locMu sync.Mutex
	locs  map[string]*time.Location

	// dueLabel writes a due time for clients; set by SetDueLabel.
	dueLabel func(time.Time) string

	// limits holds the per-identity write rate and upload slots
	// (config.Limits), shared by every front door (AdmitWrite).
	limits *identityLimits
}

// SetDueLabel sets how a request's due time is written for clients ("Réponse
// attendue avant le mardi 24 novembre à 18 h"); the deadlines live in the
// bridge, which knows the business calendar. Call it before serving.
func (s *Service) SetDueLabel(f func(time.Time) string) { s.dueLabel = f }

// NewService returns a Service. outbox must not be nil (it is the bridge's
// seam: without it nothing would reach Redmine); now may be nil (time.Now).
func NewService(store *Store, cfg *config.Holder, outbox Outbox, now func() time.Time) *Service {
	if outbox == nil {
		panic("espaceclient.NewService: nil Outbox")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, cfg: cfg, outbox: outbox, now: now, locs: map[string]*time.Location{}, limits: newIdentityLimits()}
}

// Store returns the service's store.
func (s *Service) Store() *Store { return s.store }

// Sources of a client message.
const (
	SourceAPI     = "api"
	SourceInbound = "inbound"
)

// outboxFailure marks an error of the Outbox (or of claiming an inbound
// delivery, which runs just before it in the same transaction:
// claimDeliveryTx), so the client is told that nothing was stored and to
// retry.
type outboxFailure struct{ err error }

func (o outboxFailure) Error() string { return "outbox: " + o.err.Error() }

func (o outboxFailure) Unwrap() error { return o.err }

func (s *Service) storeError(err error) error {
	var of outboxFailure
	if errors.As(err, &of) {
		return withCause(errOutbox, err)
	}
	var e *Error
	if errors.As(err, &e) || errors.Is(err, ErrNotFound) {
		return err
	}
	return withCause(errInternal, err)
}

// decorate fills what is computed, not stored: the category label and the
// attachments' URLs.
func (s *Service) decorate(cfg *config.Config, r *Request) {
	if cat, ok := cfg.Category(r.Category); ok {
		r.CategoryLabel = cat.Label
	}
	if r.DueAt != nil && s.dueLabel != nil {
		r.DueLabel = s.dueLabel(*r.DueAt)
	}
	for i := range r.Messages {
		s.decorateMessage(&r.Messages[i])
	}
}

func (s *Service) decorateMessage(m *Message) {
	m.BodyHTML = RenderText(m.Body)
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	for j := range m.Attachments {
		a := &m.Attachments[j]
		a.URL = AttachmentURL(m.RequestID, a.ID)
		a.Data = nil
	}
}

// location returns the agency's time zone (calendar.time_zone), for reference
// years and the dates written in the thread.
func (s *Service) location(cfg *config.Config) *time.Location {
	name := cfg.Calendar.TimeZone
	if name == "" {
		name = "Europe/Paris"
	}
	s.locMu.Lock()
	defer s.locMu.Unlock()
	if l, ok := s.locs[name]; ok {
		return l
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = time.UTC
	}
	s.locs[name] = l
	return l
}

// referencePrefix is the configured prefix, "D" for a configuration built
// in code without defaults.
func referencePrefix(cfg *config.Config) string {
	if cfg.ReferencePrefix == "" {
		return "D"
	}
	return cfg.ReferencePrefix
}
