package espaceclient

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
)

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
		if err := claimDeliveryTx(ctx, tx, r.ID, m.ID); err != nil {
			return outboxFailure{err}
		}
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
