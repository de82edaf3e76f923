// The inbound webhook's delivery bookkeeping: a webhook-id is processed once
// and every repeat gets the first answer, byte for byte (inbound_deliveries,
// store_delivery.go).

package espaceclient

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"
)

// Bounds of the delivery bookkeeping.
const (
	// answerWait is how long a delivery whose id is claimed, but not yet
	// answered, waits for that claim's own answer before rebuilding it from
	// what was stored: the claimer records it right after its commit, so a
	// claim still unanswered after this is one whose process died.
	answerWait = 2 * time.Second
	// staleClaimAge is the age past which a claim of the previous version
	// (status 0, nothing stored with it) is taken for a dead process's and
	// the delivery is processed again. That version stored the request
	// within the handler, which the server stops writing to after its
	// 2-minute WriteTimeout. Such a claim cannot tell a crash before the
	// request's commit (the message is lost: refusing it for ever loses it
	// for good) from a crash after it (a retry stores it twice); a duplicate
	// staff can see beats a message nobody can.
	staleClaimAge = 2 * time.Minute
	answerPoll    = 50 * time.Millisecond
)

// deliver answers one authentic delivery: the answer recorded for its id,
// or the answer rebuilt from what it stored, or else it processes it. The
// delivery id is claimed in the transaction that stores the request or
// message (see claimDeliveryTx), so a crash before that commit leaves the id
// free for the sender's retry. 4xx answers are recorded; 5xx answers are
// not, so the sender retries.
func (h *Inbound) deliver(ctx context.Context, log *logrus.Entry, id string, in InboundMessage) (int, []byte, error) {
	status, resp, answered, err := h.answerOf(ctx, log, id)
	if err != nil || answered {
		return status, resp, err
	}
	status, resp, lost := h.processInbound(ctx, log, id, in)
	// Record on a context the sender's hang-up does not cancel: what was
	// stored is committed.
	rctx := context.WithoutCancel(ctx)
	switch {
	case lost:
		log.Info("inbound webhook: a concurrent delivery of this id stored it first; answering its result")
		return h.awaitAnswer(rctx, log, id)
	case status >= 500:
		// Nothing is recorded, so the sender retries. Should the claim have
		// been committed before the failure, the retry rebuilds the answer.
		return status, resp, nil
	case status >= 400:
		inserted, err := h.deliveries.recordRefusal(rctx, id, status, resp)
		if err != nil {
			log.WithError(err).Error("inbound webhook: recording the refusal")
			return status, resp, nil
		}
		if !inserted {
			return h.awaitAnswer(rctx, log, id)
		}
		return status, resp, nil
	}
	got, gotResp, err := h.deliveries.finish(rctx, id, status, resp)
	if err != nil {
		// Stored and committed: answer it. The claim stays at 0 and a
		// retry rebuilds this answer.
		log.WithError(err).Error("inbound webhook: recording the result")
		return status, resp, nil
	}
	return got, gotResp, nil
}

// awaitAnswer is answerOf for a delivery whose id is known to be taken.
func (h *Inbound) awaitAnswer(ctx context.Context, log *logrus.Entry, id string) (int, []byte, error) {
	status, resp, answered, err := h.answerOf(ctx, log, id)
	if err != nil {
		return 0, nil, err
	}
	if !answered {
		// The row went away (only a stale claim of the previous version
		// does): let the sender retry.
		status, resp = errJSON(http.StatusServiceUnavailable, "retry", "", "this delivery could not be recorded; retry")
	}
	return status, resp, nil
}

// answerOf returns the answer due to a delivery of id from its row:
//   - no row: answered is false, process the delivery;
//   - an answer recorded: that answer, byte for byte;
//   - a claim with what it stored, unanswered after answerWait: the answer
//     rebuilt from the stored request or message, then recorded;
//   - a claim of the previous version, with nothing stored: 409 while it may
//     be in flight, then (past staleClaimAge) dropped, and answered is false.
func (h *Inbound) answerOf(ctx context.Context, log *logrus.Entry, id string) (status int, resp []byte, answered bool, err error) {
	deadline := time.Now().Add(answerWait)
	for {
		d, found, err := h.deliveries.lookup(ctx, id)
		switch {
		case err != nil:
			return 0, nil, false, err
		case !found:
			return 0, nil, false, nil
		case d.status != 0:
			log.Info("inbound webhook: repeated delivery, answering the first result")
			return d.status, d.response, true, nil
		case d.requestID == "" && d.age < staleClaimAge:
			status, resp := errJSON(http.StatusConflict, "in_progress", "", "this delivery is being processed; retry later")
			return status, resp, true, nil
		case d.requestID == "":
			dropped, err := h.deliveries.dropStaleClaim(ctx, id, staleClaimAge)
			if err != nil {
				return 0, nil, false, err
			}
			if dropped {
				log.WithField("claim_age", d.age.Round(time.Second).String()).
					Warn("inbound webhook: dropped a stale claim left by a previous version; processing the delivery again")
				return 0, nil, false, nil
			}
			// The row changed meanwhile: look again.
		case time.Now().Before(deadline):
			// Claimed and stored; its own answer should be recorded any moment.
		default:
			status, resp, err := h.rebuildAnswer(ctx, d)
			if err != nil {
				return 0, nil, false, fmt.Errorf("rebuilding the answer of delivery %s: %w", id, err)
			}
			status, resp, err = h.deliveries.finish(ctx, id, status, resp)
			if err != nil {
				return 0, nil, false, err
			}
			log.WithField("request_id", d.requestID).Info("inbound webhook: delivery stored but never answered; answering from what it stored")
			return status, resp, true, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, false, fmt.Errorf("waiting for the answer of delivery %s: %w", id, ctx.Err())
		case <-time.After(answerPoll):
		}
	}
}

// rebuildAnswer writes the answer a delivery got (or would have got) from
// what it stored, in the shape processInbound gives it.
func (h *Inbound) rebuildAnswer(ctx context.Context, d delivery) (int, []byte, error) {
	stored, err := h.svc.store.GetRequest(ctx, d.requestID)
	if err != nil {
		return 0, nil, fmt.Errorf("reading request %s: %w", d.requestID, err)
	}
	// The request was stored on behalf of its author, whom the delivery named.
	author := Identity{ID: stored.IdentityID, Role: stored.AuthorRole}
	req, err := h.svc.GetRequest(ctx, author, d.requestID)
	if err != nil {
		return 0, nil, fmt.Errorf("reading request %s with its thread: %w", d.requestID, err)
	}
	var msg *Message
	for i := range req.Messages {
		if req.Messages[i].ID == d.messageID {
			m := req.Messages[i]
			msg = &m
		}
	}
	if msg == nil {
		return 0, nil, fmt.Errorf("message %s is not in request %s", d.messageID, d.requestID)
	}
	switch d.kind {
	case "request":
		req.Messages = []Message{*msg}
		status, resp := requestAnswer(req)
		return status, resp, nil
	case "message":
		status, resp := messageAnswer(req, *msg)
		return status, resp, nil
	}
	return 0, nil, fmt.Errorf("unknown delivery kind %q", d.kind)
}

// requestAnswer is the answer to a delivery that filed a new request.
func requestAnswer(req Request) (int, []byte) {
	return okJSON(http.StatusCreated, map[string]any{"request": req})
}

// messageAnswer is the answer to a delivery that added a follow-up.
func messageAnswer(req Request, msg Message) (int, []byte) {
	return okJSON(http.StatusCreated, map[string]any{"request_id": req.ID, "reference": req.Reference, "message": msg})
}

// deliveryClaimKey is the context key under which processInbound hands the
// delivery to claim to the Outbox, which claims it in the transaction that
// stores the request or message (claimDeliveryTx).
type deliveryClaimKey struct{}

// deliveryClaim names an inbound delivery: its webhook-id and its type
// ("request" or "message"), which fixes the shape of its answer.
type deliveryClaim struct{ id, kind string }

func withDeliveryClaim(ctx context.Context, c deliveryClaim) context.Context {
	return context.WithValue(ctx, deliveryClaimKey{}, c)
}

func deliveryClaimFrom(ctx context.Context) (deliveryClaim, bool) {
	c, ok := ctx.Value(deliveryClaimKey{}).(deliveryClaim)
	return c, ok
}
