package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

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
	return &Service{store: store, cfg: cfg, outbox: outbox, now: now, locs: map[string]*time.Location{}}
}

// Store returns the service's store.
func (s *Service) Store() *Store { return s.store }

// NewRequest is what a client fills to file a request. Which of Location,
// Urgency, Payer, Lot and Mandate are required depends on the category
// (config.Category.Needs).
type NewRequest struct {
	Category string `json:"category"`
	Subject  string `json:"subject"`
	Body     string `json:"body"`
	// Location is the exact place (room, floor, common part...).
	Location string `json:"location"`
	// Urgency is one of Urgencies: urgent, high, normal.
	Urgency string `json:"urgency"`
	// Payer is who pays for a repair, one of Payers: tenant, owner, syndic, other.
	Payer string `json:"payer"`
	// Lot is one of the caller's lots.
	Lot string `json:"lot"`
	// Mandate is one of the caller's mandates (RIB and address changes).
	Mandate string `json:"mandate"`
}

// Option is one allowed value of a choice field, with its French label.
type Option struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Payers are the values of NewRequest.Payer: who pays for a repair or works.
var Payers = []Option{
	{"tenant", "Le locataire"},
	{"owner", "Le propriétaire"},
	{"syndic", "Le syndic de copropriété"},
	{"other", "Un autre intervenant"},
}

// Urgencies are the values of NewRequest.Urgency.
var Urgencies = []Option{
	{"urgent", "Urgent"},
	{"high", "Élevée"},
	{"normal", "Normale"},
}

// French spellings accepted as well, so a form or a gateway may send them.
var optionAliases = map[string]string{
	"locataire": "tenant", "proprietaire": "owner", "propriétaire": "owner", "bailleur": "owner", "autre": "other",
	"urgente": "urgent", "haute": "high", "elevee": "high", "élevée": "high", "normale": "normal",
}

func optionLabel(opts []Option, id string) string {
	for _, o := range opts {
		if o.ID == id {
			return o.Label
		}
	}
	return id
}

// PayerLabel returns the French label of a payer id ("owner" → "Le propriétaire").
func PayerLabel(id string) string { return optionLabel(Payers, id) }

// UrgencyLabel returns the French label of an urgency id ("high" → "Élevée").
func UrgencyLabel(id string) string { return optionLabel(Urgencies, id) }

// StatusLabel returns what the client sees for a status: à traiter, en cours,
// en attente de votre réponse, clôturé.
func StatusLabel(cs config.ClientStatus) string {
	switch cs {
	case config.StatusNew:
		return "à traiter"
	case config.StatusInProgress:
		return "en cours"
	case config.StatusWaitingClient:
		return "en attente de votre réponse"
	case config.StatusClosed:
		return "clôturé"
	}
	return string(cs)
}

// RoleLabel returns the French name of a role.
func RoleLabel(r config.Role) string {
	switch r {
	case config.RoleTenant:
		return "locataire"
	case config.RoleOwner:
		return "propriétaire"
	}
	return string(r)
}

// Length bounds of the short fields.
const (
	maxLocationLength = 200
	maxIDFieldLength  = 100
)

// Texts of the thread events the customer space writes itself.
const (
	ReopenedBody = "Demande rouverte par votre message."
)

// Sources of a client message.
const (
	SourceAPI     = "api"
	SourceInbound = "inbound"
)

func checkRole(id Identity) *Error {
	if id.ID == "" || !validUUID(id.ID) || (id.Role != config.RoleTenant && id.Role != config.RoleOwner) {
		return errNoRole
	}
	return nil
}

// Categories returns the categories id's role may use, in configuration order.
func (s *Service) Categories(id Identity) ([]config.Category, error) {
	if err := checkRole(id); err != nil {
		return nil, err
	}
	out := []config.Category{}
	for _, c := range s.cfg.Get().Categories {
		if c.Allows(id.Role) {
			out = append(out, c)
		}
	}
	return out, nil
}

// CreateRequest validates and stores a new request with its first message
// (in.Body) and files, then calls Outbox.RequestCreated in the same
// transaction. Nothing is stored when validation or the outbox fails. source
// is SourceAPI or SourceInbound. It returns the request with its first message.
func (s *Service) CreateRequest(ctx context.Context, id Identity, in NewRequest, files []Upload, source string) (Request, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Request{}, err
	}
	in, _, verr := validateNewRequest(cfg, id, in)
	if verr != nil {
		return Request{}, verr
	}
	checked, verr := checkUploads(files, cfg.Uploads)
	if verr != nil {
		return Request{}, verr
	}
	now := ts(s.now())
	req := newRequestRow(id, in, now)
	return s.storeNewRequest(ctx, cfg, req, id, in.Body, checked, source, now)
}

func newRequestRow(id Identity, in NewRequest, now time.Time) Request {
	return Request{
		IdentityID: id.ID, AuthorRole: id.Role, AuthorName: displayName(id), AuthorEmail: id.Email,
		Category: in.Category, Subject: in.Subject, Location: in.Location, Urgency: in.Urgency, Payer: in.Payer,
		Lot: in.Lot, Mandate: in.Mandate, Status: config.StatusNew, CreatedAt: now, UpdatedAt: now,
	}
}

func (s *Service) storeNewRequest(ctx context.Context, cfg *config.Config, req Request, id Identity,
	body string, files []checkedFile, source string, now time.Time) (Request, error) {
	first := newThreadItem{msg: clientMessage(id, body, source, now), files: files}
	year := now.In(s.location(cfg)).Year()
	r, m, err := s.store.createRequest(ctx, req, first, referencePrefix(cfg), year, func(tx pgx.Tx, r Request, m Message) error {
		if err := s.outbox.RequestCreated(ctx, tx, r, m); err != nil {
			return outboxFailure{err}
		}
		return nil
	})
	if err != nil {
		return Request{}, s.storeError(err)
	}
	// The outbox may have set the due time in the same transaction.
	if stored, err := s.store.GetRequest(ctx, r.ID); err == nil {
		r.DueAt = stored.DueAt
	}
	r.Messages = []Message{m}
	s.decorate(cfg, &r)
	return r, nil
}

func clientMessage(id Identity, body, source string, at time.Time) Message {
	if source == "" {
		source = SourceAPI
	}
	return Message{
		AuthorKind: AuthorClient, Kind: KindMessage, AuthorName: displayName(id), IdentityID: id.ID,
		Body: body, Source: source, CreatedAt: at,
	}
}

// outboxFailure marks an error of the Outbox, so the client is told that
// nothing was stored and to retry.
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

// errLinkedRequest leaves the transaction of AddMessage when the request is
// closed and the configuration says to file a new linked request instead.
type errLinkedRequest struct{ old Request }

func (errLinkedRequest) Error() string { return "closed request: file a new linked request" }

// AddMessage validates and stores a client's follow-up on one of the
// client's own requests, then calls Outbox.MessageAdded in the same
// transaction. Only the author may post: another client's request answers 404,
// an owner reading a request filed on one of the owner's lots gets 403
// read_only, and an author who no longer holds the rights the request needs
// (writeRefusal: role allowed for the category, lot, mandate, read from the
// identity now) gets 403 rights_changed, whatever the request's status.
//
// On a closed request, with redmine.on_client_message_after_close:
//   - "reopen" (default): the request goes back to in_progress, a system event
//     "Demande rouverte par votre message." follows the message, and
//     MessageAdded is called with reopen=true;
//   - "new_request": a new request is filed in the same category, linked to the
//     closed one (linked_request_id), with this message as its first message
//     (Outbox.RequestCreated is called, not MessageAdded). The returned
//     message's RequestID is then the new request's id.
func (s *Service) AddMessage(ctx context.Context, id Identity, requestID string, body string, files []Upload, source string) (Message, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Message{}, err
	}
	body, verr := cleanBody(cfg, body)
	if verr != nil {
		return Message{}, verr
	}
	checked, verr := checkUploads(files, cfg.Uploads)
	if verr != nil {
		return Message{}, verr
	}
	now := ts(s.now())
	var out Message
	err := s.store.inTx(ctx, func(tx pgx.Tx) error {
		req, err := lockWritable(ctx, tx, cfg, id, requestID)
		if err != nil {
			return err
		}
		reopen := req.Status == config.StatusClosed
		if reopen && cfg.Redmine.OnClientMessageAfterClose == "new_request" {
			return errLinkedRequest{old: req}
		}
		msg := clientMessage(id, body, source, now)
		msg.RequestID = req.ID
		msg.Reopens = reopen
		msg, err = insertMessage(ctx, tx, msg, checked)
		if err != nil {
			return err
		}
		if reopen {
			if err := setClientStatus(ctx, tx, &req, config.StatusInProgress, now); err != nil {
				return err
			}
			// One microsecond later, so the event sorts after the message.
			at := now.Add(time.Microsecond)
			if _, err := insertMessage(ctx, tx, Message{
				RequestID: req.ID, AuthorKind: AuthorSystem, Kind: KindReopened, AuthorName: AgencyName,
				Body: ReopenedBody, Source: "system", CreatedAt: at,
			}, nil); err != nil {
				return err
			}
		} else if err := touchRequest(ctx, tx, &req, now); err != nil {
			return err
		}
		if err := s.outbox.MessageAdded(ctx, tx, req, msg, reopen); err != nil {
			return outboxFailure{err}
		}
		out = msg
		return nil
	})
	var linked errLinkedRequest
	if errors.As(err, &linked) {
		return s.linkedRequest(ctx, cfg, id, linked.old, body, checked, source, now)
	}
	if err != nil {
		return Message{}, s.storeError(err)
	}
	s.decorateMessage(&out)
	return out, nil
}

// linkedRequest files a new request continuing a closed one
// (on_client_message_after_close: new_request). It is a new request: its
// fields (the old request's category, lot, mandate, place, payer and urgency)
// go through validateNewRequest against the identity's current rights, as
// CreateRequest's do; nothing is copied unchecked.
func (s *Service) linkedRequest(ctx context.Context, cfg *config.Config, id Identity, old Request, body string,
	files []checkedFile, source string, now time.Time) (Message, error) {
	if _, ok := cfg.Category(old.Category); !ok {
		return Message{}, invalid("unknown_category", "category",
			"Cette demande est clôturée et sa catégorie n'est plus proposée : merci de déposer une nouvelle demande.")
	}
	if e := writeRefusal(cfg, id, old); e != nil {
		return Message{}, e
	}
	in, _, verr := validateNewRequest(cfg, id, NewRequest{
		Category: old.Category, Body: body,
		Subject:  truncateRunes("Suite "+old.Reference+" : "+old.Subject, cfg.Uploads.MaxSubjectLength),
		Location: old.Location, Urgency: old.Urgency, Payer: old.Payer, Lot: old.Lot, Mandate: old.Mandate,
	})
	if verr != nil {
		return Message{}, verr
	}
	req := newRequestRow(id, in, now)
	oldID := old.ID
	req.LinkedRequestID = &oldID
	r, err := s.storeNewRequest(ctx, cfg, req, id, in.Body, files, source, now)
	if err != nil {
		return Message{}, err
	}
	return r.Messages[0], nil
}

// AddMessageByReference is AddMessage on the caller's request with that
// reference (D-2026-000123), for channels that know the reference rather than
// the id. It returns the request the message landed in (a new linked one when
// the configuration says so) with its thread, and the message.
func (s *Service) AddMessageByReference(ctx context.Context, id Identity, reference, body string, files []Upload, source string) (Request, Message, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Request{}, Message{}, err
	}
	ref := strings.ToUpper(strings.TrimSpace(reference))
	req, err := s.store.RequestByReference(ctx, ref)
	if errors.Is(err, ErrNotFound) || (err == nil && accessOf(cfg, id, req) == accessNone) {
		return Request{}, Message{}, newError(http.StatusNotFound, "not_found", "reference",
			"Aucune de vos demandes ne porte la référence « %s ».", truncateRunes(reference, 40))
	}
	if err != nil {
		return Request{}, Message{}, s.storeError(err)
	}
	msg, err := s.AddMessage(ctx, id, req.ID, body, files, source)
	if err != nil {
		return Request{}, Message{}, err
	}
	out, err := s.GetRequest(ctx, id, msg.RequestID)
	if err != nil {
		return Request{}, Message{}, err
	}
	return out, msg, nil
}

// Close closes one of the caller's requests: status closed, closed_at now, a
// system event "Demande clôturée par vous le ...", and Outbox.RequestClosed in
// the same transaction. Closing a closed request changes nothing and calls no
// outbox (idempotent). Only the author may close, while it holds the rights
// the request needs (403 rights_changed otherwise). It returns the request
// with its thread.
func (s *Service) Close(ctx context.Context, id Identity, requestID string) (Request, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Request{}, err
	}
	now := ts(s.now())
	err := s.store.inTx(ctx, func(tx pgx.Tx) error {
		req, err := lockWritable(ctx, tx, cfg, id, requestID)
		if err != nil {
			return err
		}
		if req.Status == config.StatusClosed {
			return nil
		}
		if err := setClientStatus(ctx, tx, &req, config.StatusClosed, now); err != nil {
			return err
		}
		local := now.In(s.location(cfg))
		msg, err := insertMessage(ctx, tx, Message{
			RequestID: req.ID, AuthorKind: AuthorSystem, Kind: KindClosed, AuthorName: AgencyName,
			Body:   fmt.Sprintf("Demande clôturée par vous le %s à %s.", local.Format("02/01/2006"), local.Format("15:04")),
			Source: "system", CreatedAt: now,
		}, nil)
		if err != nil {
			return err
		}
		if err := s.outbox.RequestClosed(ctx, tx, req, msg); err != nil {
			return outboxFailure{err}
		}
		return nil
	})
	if err != nil {
		return Request{}, s.storeError(err)
	}
	return s.GetRequest(ctx, id, requestID)
}

// GetRequest returns a request the caller may read (its own, or for an owner
// one filed on the owner's lots in a category shared with owners) with its thread; attachments carry their
// download URL, not their bytes. Anything else answers 404.
func (s *Service) GetRequest(ctx context.Context, id Identity, requestID string) (Request, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Request{}, err
	}
	req, err := s.store.GetRequestThread(ctx, requestID, false)
	if errors.Is(err, ErrNotFound) || (err == nil && accessOf(cfg, id, req) == accessNone) {
		return Request{}, errRequestNotFound
	}
	if err != nil {
		return Request{}, s.storeError(err)
	}
	s.decorate(cfg, &req)
	return req, nil
}

// ListRequests returns the caller's requests, and for an owner those filed on
// the owner's lots in the categories shared with owners, newest first,
// without threads. status is "" or one of the four client statuses.
func (s *Service) ListRequests(ctx context.Context, id Identity, status string) ([]Request, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return nil, err
	}
	cs := config.ClientStatus(strings.TrimSpace(status))
	switch cs {
	case "", config.StatusNew, config.StatusInProgress, config.StatusWaitingClient, config.StatusClosed:
	default:
		return nil, invalid("invalid_value", "status",
			"« %s » n'est pas un statut : choisissez new, in_progress, waiting_client ou closed.", truncateRunes(status, 40))
	}
	sc := ListScope{IdentityID: id.ID, Status: cs}
	if id.Role == config.RoleOwner {
		sc.Lots = id.Lots
		sc.SharedCategories = sharedCategories(cfg)
	}
	reqs, err := s.store.ListRequests(ctx, sc)
	if err != nil {
		return nil, s.storeError(err)
	}
	for i := range reqs {
		s.decorate(cfg, &reqs[i])
	}
	return reqs, nil
}

// GetAttachment returns one attachment, with its bytes, of a request the
// caller may read. Anything else (another client's request, an attachment of
// another request, a malformed id) answers 404.
func (s *Service) GetAttachment(ctx context.Context, id Identity, requestID, attachmentID string) (Attachment, error) {
	cfg := s.cfg.Get()
	if err := checkRole(id); err != nil {
		return Attachment{}, err
	}
	req, err := s.store.GetRequest(ctx, requestID)
	if errors.Is(err, ErrNotFound) || (err == nil && accessOf(cfg, id, req) == accessNone) {
		return Attachment{}, errAttachmentNotFound
	}
	if err != nil {
		return Attachment{}, s.storeError(err)
	}
	a, err := s.store.GetAttachment(ctx, req.ID, attachmentID)
	if errors.Is(err, ErrNotFound) {
		return Attachment{}, errAttachmentNotFound
	}
	if err != nil {
		return Attachment{}, s.storeError(err)
	}
	a.URL = AttachmentURL(req.ID, a.ID)
	return a, nil
}

// AttachmentURL is the API path of an attachment's download.
func AttachmentURL(requestID, attachmentID string) string {
	return "/api/v1/requests/" + requestID + "/attachments/" + attachmentID
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

func displayName(id Identity) string {
	if n := strings.TrimSpace(id.Name); n != "" {
		return n
	}
	return id.Email
}

// ---- validation ------------------------------------------------------------

// validateNewRequest checks and normalizes every field of a new request for
// identity id. It returns the normalized request and its category.
func validateNewRequest(cfg *config.Config, id Identity, in NewRequest) (NewRequest, config.Category, *Error) {
	var out NewRequest
	catID := strings.TrimSpace(in.Category)
	if catID == "" {
		return out, config.Category{}, invalid("required", "category", "Choisissez la catégorie de votre demande.")
	}
	cat, ok := cfg.Category(catID)
	if !ok {
		return out, config.Category{}, invalid("unknown_category", "category",
			"La catégorie « %s » n'existe pas.", truncateRunes(cleanLine(catID), 60))
	}
	if !cat.Allows(id.Role) {
		return out, cat, categoryNotAllowed(cat)
	}
	out.Category = cat.ID

	var err *Error
	if out.Subject, err = cleanField("subject", "L'objet", in.Subject, false, cfg.Uploads.MaxSubjectLength); err != nil {
		return out, cat, err
	}
	if out.Subject == "" {
		return out, cat, invalid("required", "subject", "Indiquez l'objet de votre demande.")
	}
	if out.Body, err = cleanBody(cfg, in.Body); err != nil {
		return out, cat, err
	}
	if out.Location, err = cleanField("location", "L'emplacement", in.Location, false, maxLocationLength); err != nil {
		return out, cat, err
	}
	if out.Location == "" && cat.Needs("location") {
		return out, cat, invalid("required", "location",
			"Précisez l'emplacement exact (logement ou partie commune, pièce, étage…).")
	}
	if out.Payer, err = choice("payer", "qui prend en charge les frais", in.Payer, Payers); err != nil {
		return out, cat, err
	}
	if out.Payer == "" && cat.Needs("payer") {
		return out, cat, invalid("required", "payer",
			"Indiquez qui prend en charge les frais : le locataire, le propriétaire, le syndic ou un autre intervenant.")
	}
	if out.Urgency, err = choice("urgency", "l'urgence", in.Urgency, Urgencies); err != nil {
		return out, cat, err
	}
	if out.Urgency == "" && cat.Needs("urgency") {
		return out, cat, invalid("required", "urgency", "Indiquez l'urgence : urgent, élevée ou normale.")
	}
	if out.Lot, err = held("lot", in.Lot, id.Lots, cat.Needs("lot")); err != nil {
		return out, cat, err
	}
	if out.Mandate, err = held("mandate", in.Mandate, id.Mandates, cat.Needs("mandate")); err != nil {
		return out, cat, err
	}
	return out, cat, nil
}

func categoryNotAllowed(cat config.Category) *Error {
	msg := fmt.Sprintf("La catégorie « %s » n'est pas proposée à votre compte.", cat.Label)
	if len(cat.Roles) == 1 {
		switch cat.Roles[0] {
		case config.RoleOwner:
			msg = fmt.Sprintf("La catégorie « %s » est réservée aux propriétaires.", cat.Label)
		case config.RoleTenant:
			msg = fmt.Sprintf("La catégorie « %s » est réservée aux locataires.", cat.Label)
		}
	}
	return &Error{Status: http.StatusForbidden, Code: "category_not_allowed", Field: "category", Message: msg}
}

// held checks a lot or mandate against those the identity holds. When the
// field is required, empty, and the identity holds exactly one, that one is
// taken.
func held(field, value string, holds []string, required bool) (string, *Error) {
	v := strings.TrimSpace(value)
	noun, nouns := "lot", "lots"
	if field == "mandate" {
		noun, nouns = "mandat", "mandats"
	}
	if v == "" {
		if !required {
			return "", nil
		}
		switch len(holds) {
		case 0:
			return "", invalid("required", field,
				"Cette catégorie demande un %s, mais aucun %s n'est rattaché à votre compte. Merci de contacter l'agence.", noun, noun)
		case 1:
			return holds[0], nil
		}
		return "", invalid("required", field, "Indiquez le %s concerné parmi les vôtres : %s.", noun, strings.Join(holds, ", "))
	}
	if !contains(holds, v) {
		return "", invalid("unknown_"+field, field, "Le %s « %s » ne fait pas partie de vos %s.", noun, truncateRunes(cleanLine(v), 60), nouns)
	}
	return v, nil
}

// choice checks a value against a list of options (French aliases accepted).
func choice(field, what, value string, opts []Option) (string, *Error) {
	v := strings.ToLower(strings.TrimSpace(value))
	if v == "" {
		return "", nil
	}
	if a, ok := optionAliases[v]; ok {
		v = a
	}
	ids := make([]string, len(opts))
	for i, o := range opts {
		if o.ID == v {
			return v, nil
		}
		ids[i] = o.ID
	}
	return "", invalid("invalid_value", field, "« %s » n'est pas une valeur possible pour %s : choisissez parmi %s.",
		truncateRunes(cleanLine(value), 40), what, strings.Join(ids, ", "))
}

func cleanBody(cfg *config.Config, body string) (string, *Error) {
	b, err := cleanField("body", "Le message", body, true, cfg.Uploads.MaxBodyLength)
	if err != nil {
		return "", err
	}
	if b == "" {
		return "", invalid("required", "body", "Écrivez votre message.")
	}
	return b, nil
}

// cleanField normalizes a text field (valid UTF-8 required; control and
// invisible formatting characters removed; line breaks kept only when
// multiline, as \n; surrounding spaces trimmed) and checks its length in
// characters.
func cleanField(field, what, s string, multiline bool, max int) (string, *Error) {
	if !utf8.ValidString(s) {
		return "", invalid("invalid_text", field, "%s contient des caractères illisibles : le texte doit être encodé en UTF-8.", what)
	}
	var out string
	if multiline {
		out = cleanMultiline(s)
	} else {
		out = cleanLine(s)
	}
	if n := utf8.RuneCountInString(out); max > 0 && n > max {
		return "", invalid("too_long", field, "%s ne doit pas dépasser %d caractères (il en compte %d).", what, max, n)
	}
	return out, nil
}

// cleanLine makes s one line: each run of spaces and line breaks becomes one
// space, control characters are dropped.
func cleanLine(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && r != '\u200d':
		default:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func cleanMultiline(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && r != '\u200d':
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func truncateRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// referencePrefix is the configured prefix, "D" for a configuration built
// in code without defaults.
func referencePrefix(cfg *config.Config) string {
	if cfg.ReferencePrefix == "" {
		return "D"
	}
	return cfg.ReferencePrefix
}
