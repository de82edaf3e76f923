package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
	"passerelle/internal/fr"
)

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
		if err := claimDeliveryTx(ctx, tx, req.ID, msg.ID); err != nil {
			return outboxFailure{err}
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
			Body:   fmt.Sprintf(closedByClientFormat, fr.Date(local), fr.Clock(local)),
			Source: "system", CreatedAt: now,
		}, nil)
		if err != nil {
			return err
		}
		if err := claimDeliveryTx(ctx, tx, req.ID, msg.ID); err != nil {
			return outboxFailure{err}
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
