package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/kratos"
)

// InboundMessage is the body of POST /hooks/inbound: another channel (an
// existing portal, an e-mail or SMS gateway) hands over a client's new request
// or a follow-up on an existing reference, on behalf of a known identity.
type InboundMessage struct {
	// Type is "request" (a new request) or "message" (a follow-up).
	Type string `json:"type"`
	// Identity names the client by Kratos id or by e-mail.
	Identity struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"identity"`
	// Request holds a new request's fields (type "request").
	Request espaceclient.NewRequest `json:"request"`
	// Reference and Body make a follow-up (type "message").
	Reference string `json:"reference"`
	Body      string `json:"body"`
	// Attachments are files, base64-encoded.
	Attachments []struct {
		Filename      string `json:"filename"`
		ContentBase64 string `json:"content_base64"`
	} `json:"attachments"`

	// files are Attachments decoded (by parseInbound).
	files []espaceclient.Upload
}

// handleInbound stores a signed inbound client message through exactly the
// same validation, storage and outbox as the customer-space API. A delivery
// id is processed once: a repeated delivery (same webhook-id, valid
// signature) gets the first answer again, byte for byte, and changes nothing.
// The id is claimed in the transaction that stores the request or message,
// so a crash never leaves it claimed with nothing stored (see deliver).
func (h *Hooks) handleInbound(w http.ResponseWriter, r *http.Request) {
	cfg := h.holder.Get()
	log := h.log.WithFields(logrus.Fields{"hook": "inbound", "remote_addr": r.RemoteAddr})
	secret := cfg.Webhooks.InboundSecret.Reveal()
	if secret == "" {
		log.Warn("inbound webhook called but webhooks.inbound_secret_file is not configured")
		hookError(w, "inbound", http.StatusServiceUnavailable, "not_configured", "inbound webhook secret not configured")
		return
	}
	// Everything that needs no body is checked before a byte of it is read:
	// the signature headers, the timestamp, the id, the declared length and
	// the concurrency cap.
	id := r.Header.Get("webhook-id")
	check, err := newStandardWebhookCheck(secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), h.bridge.now(), cfg.Webhooks.InboundTolerance)
	if errors.Is(err, errBadInboundSecret) {
		log.WithError(err).Error("inbound webhook: the configured secret cannot be used")
		hookError(w, "inbound", http.StatusServiceUnavailable, "not_configured", "inbound webhook secret is not usable")
		return
	}
	if err != nil {
		log.WithError(err).Warn("inbound webhook refused before reading its body")
		w.Header().Set("Connection", "close")
		hookError(w, "inbound", http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	if !validWebhookID(id) {
		log.Warn("inbound webhook refused: malformed webhook-id")
		w.Header().Set("Connection", "close")
		hookError(w, "inbound", http.StatusBadRequest, "invalid_webhook_id",
			"L'en-tête webhook-id doit être de l'ASCII imprimable, sans espace, de 200 caractères au plus.")
		return
	}
	release, ok := h.inboundSlots.tryAcquire()
	if !ok {
		log.Warn("inbound webhook refused: too many deliveries in flight")
		hookBusy(w, "inbound")
		return
	}
	defer release()
	setReadDeadline(w, h.inboundReadTimeout)
	limit := inboundBodyLimit(cfg)
	body, err := readHookBody(w, r, limit, check)
	if err != nil {
		log.WithError(err).Warn("inbound webhook body refused")
		bodyReadRefusal(w, "inbound", limit, err)
		return
	}
	if err := check.Verify(); err != nil {
		log.WithError(err).Warn("inbound webhook refused")
		hookError(w, "inbound", http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	log = log.WithField("webhook_id", id)
	in, refusal := parseInbound(body)
	if refusal != nil {
		log.WithFields(logrus.Fields{"code": refusal.code, "field": refusal.field}).Warn("inbound webhook: malformed delivery refused")
		status, resp := refusal.answer()
		writeRaw(w, status, resp)
		return
	}
	status, resp, err := h.deliver(r.Context(), log, id, in)
	if err != nil {
		log.WithError(err).Error("inbound webhook: recording the delivery")
		hookError(w, "inbound", http.StatusInternalServerError, "internal", "try again")
		return
	}
	writeRaw(w, status, resp)
}

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
func (h *Hooks) deliver(ctx context.Context, log *logrus.Entry, id string, in InboundMessage) (int, []byte, error) {
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
func (h *Hooks) awaitAnswer(ctx context.Context, log *logrus.Entry, id string) (int, []byte, error) {
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
func (h *Hooks) answerOf(ctx context.Context, log *logrus.Entry, id string) (status int, resp []byte, answered bool, err error) {
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
func (h *Hooks) rebuildAnswer(ctx context.Context, d delivery) (int, []byte, error) {
	stored, err := h.store.GetRequest(ctx, d.requestID)
	if err != nil {
		return 0, nil, fmt.Errorf("reading request %s: %w", d.requestID, err)
	}
	// The request was stored on behalf of its author, whom the delivery named.
	author := espaceclient.Identity{ID: stored.IdentityID, Role: stored.AuthorRole}
	req, err := h.svc.GetRequest(ctx, author, d.requestID)
	if err != nil {
		return 0, nil, fmt.Errorf("reading request %s with its thread: %w", d.requestID, err)
	}
	var msg *espaceclient.Message
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
		req.Messages = []espaceclient.Message{*msg}
		status, resp := requestAnswer(req)
		return status, resp, nil
	case "message":
		status, resp := messageAnswer(req, *msg)
		return status, resp, nil
	}
	return 0, nil, fmt.Errorf("unknown delivery kind %q", d.kind)
}

// requestAnswer is the answer to a delivery that filed a new request.
func requestAnswer(req espaceclient.Request) (int, []byte) {
	return okJSON(http.StatusCreated, map[string]any{"request": req})
}

// messageAnswer is the answer to a delivery that added a follow-up.
func messageAnswer(req espaceclient.Request, msg espaceclient.Message) (int, []byte) {
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

// processInbound validates and stores one delivery, claiming its id in the
// transaction that stores it; it returns the HTTP status and JSON answer.
// lost is true when a concurrent delivery of the same id committed its claim
// first: nothing was stored and the answer is that delivery's.
func (h *Hooks) processInbound(ctx context.Context, log *logrus.Entry, id string, in InboundMessage) (status int, resp []byte, lost bool) {
	var ident espaceclient.Identity
	var err error
	if in.Identity.ID != "" {
		ident, err = h.identities.ByID(ctx, in.Identity.ID)
	} else {
		ident, err = h.identities.ByEmail(ctx, in.Identity.Email)
	}
	if errors.Is(err, kratos.ErrEmailUnverified) {
		return answer(errJSON(http.StatusUnprocessableEntity, "unverified_email", "identity.email",
			"Cette adresse n'est ni vérifiée par le client ni enregistrée par l'agence : désignez le client par identity.id, ou faites vérifier son adresse."))
	}
	if errors.Is(err, kratos.ErrNotFound) || errors.Is(err, kratos.ErrIdentityInactive) {
		return answer(errJSON(http.StatusUnprocessableEntity, "unknown_identity", "identity", "no active client with that identity"))
	}
	if errors.Is(err, kratos.ErrNoRole) {
		return answer(errJSON(http.StatusUnprocessableEntity, "no_role", "identity",
			"Votre compte n'est pas encore rattaché à un lot ou à un mandat. Merci de contacter l'agence."))
	}
	if err != nil {
		var ee *espaceclient.Error
		if errors.As(err, &ee) && ee.Status < 500 {
			return answer(errJSON(http.StatusUnprocessableEntity, ee.Code, "identity", ee.Message))
		}
		log.WithError(err).Error("inbound webhook: looking up the identity")
		return answer(errJSON(http.StatusServiceUnavailable, "identity_unavailable", "", "identities cannot be read now; retry"))
	}
	files := in.files
	log = log.WithField("identity_id", ident.ID)
	claimed := withDeliveryClaim(ctx, deliveryClaim{id: id, kind: in.Type})
	switch in.Type {
	case "request":
		req, err := h.svc.CreateRequest(claimed, ident, in.Request, files, espaceclient.SourceInbound)
		if errors.Is(err, errDeliveryClaimed) {
			return 0, nil, true
		}
		if err != nil {
			return answer(serviceErr(log, err))
		}
		log.WithField("reference", req.Reference).Info("inbound webhook: request stored")
		return answer(requestAnswer(req))
	case "message":
		req, msg, err := h.svc.AddMessageByReference(claimed, ident, in.Reference, in.Body, files, espaceclient.SourceInbound)
		if errors.Is(err, errDeliveryClaimed) {
			return 0, nil, true
		}
		if err != nil {
			return answer(serviceErr(log, err))
		}
		log.WithField("reference", req.Reference).Info("inbound webhook: message stored")
		return answer(messageAnswer(req, msg))
	}
	// parseInbound let no other type through.
	return answer(errJSON(http.StatusUnprocessableEntity, "invalid_value", "type", `Le champ type doit valoir "request" ou "message".`))
}

// answer is an answer of processInbound that did not lose its claim.
func answer(status int, resp []byte) (int, []byte, bool) { return status, resp, false }

func serviceErr(log *logrus.Entry, err error) (int, []byte) {
	var ee *espaceclient.Error
	if errors.As(err, &ee) {
		if ee.Status >= 500 {
			log.WithError(err).Error("inbound webhook: storing failed")
		}
		return errJSON(ee.Status, ee.Code, ee.Field, ee.Message)
	}
	log.WithError(err).Error("inbound webhook: storing failed")
	return errJSON(http.StatusInternalServerError, "internal", "", "internal error; retry")
}

func errJSON(status int, code, field, msg string) (int, []byte) {
	e := map[string]string{"code": code, "message": msg}
	if field != "" {
		e["field"] = field
	}
	return okJSON(status, map[string]any{"error": e})
}

func okJSON(status int, v any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		return http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding"}}`)
	}
	return status, b
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	hookCalls.WithLabelValues("inbound", strconv.Itoa(status)).Inc()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
