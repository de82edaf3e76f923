package espaceclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/internal/hookguard"
	"passerelle/kratos"
)

// Bounds of POST /hooks/inbound against a caller who is not (yet)
// authenticated (internal/hookguard): how many deliveries are read at once,
// how long reading one may take, and how large it may be. A delivery past the
// concurrency cap is answered 503 with Retry-After at once, without reading
// its body.
const (
	// inboundConcurrency is how many POST /hooks/inbound are read and
	// processed at once. A gateway sends one at a time per client; with the
	// body cap below, this bounds the memory they hold to about 30 MiB.
	inboundConcurrency = 4
	// inboundReadTimeout is how long an inbound delivery may take to arrive
	// whole (7 MiB at the default caps: 250 KB/s is enough).
	inboundReadTimeout = 30 * time.Second
	// inboundTextAllowance is what an inbound body may hold besides its
	// base64 files: the JSON, the subject and the message text, escaped.
	// 10,000 characters of text at 6 bytes each (\u00e9) are 60 KB.
	inboundTextAllowance = 256 << 10
)

// InboundBodyLimit is the largest POST /hooks/inbound body under cfg: one
// uploads.max_file_size worth of files in base64 (4/3 of it) plus
// inboundTextAllowance. A delivery carries at most that much in files in
// total (a gateway sends more as follow-up messages): with the defaults,
// 5 MiB of files and a 6.9 MiB (7,252,652-byte) body, where it was 34 MiB before.
func InboundBodyLimit(cfg *config.Config) int64 {
	size := int64(cfg.Uploads.MaxFileSize)
	return (size+2)/3*4 + inboundTextAllowance
}

// Inbound serves POST /hooks/inbound: another channel (an existing portal,
// an e-mail or SMS gateway) hands over a client's new request or follow-up,
// signed with Standard Webhooks, on behalf of an identity the directory
// finds. It goes through the same Service as the JSON API; it never touches
// Redmine.
type Inbound struct {
	svc        *Service
	identities IdentityDirectory
	deliveries deliveryStore
	log        *logrus.Logger
	// bounds against unauthenticated callers; tests lower them (Bounds).
	bounds hookguard.Bounds
	// metrics count the answers (WithMetrics; default a private registry).
	metrics *hookguard.Metrics
}

// NewInbound returns the inbound webhook over svc, finding clients in
// identities. log may be nil (a JSON logger on standard error).
func NewInbound(svc *Service, identities IdentityDirectory, log *logrus.Logger) *Inbound {
	if log == nil {
		log = logrus.New()
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	return &Inbound{svc: svc, identities: identities, deliveries: deliveryStore{pool: svc.store.pool}, log: log,
		bounds: hookguard.NewBounds(inboundConcurrency, inboundReadTimeout), metrics: hookguard.NewMetrics(nil)}
}

// WithMetrics makes the hook count its answers on m (the daemon's, served on
// /metrics) and returns it.
func (h *Inbound) WithMetrics(m *hookguard.Metrics) *Inbound {
	h.metrics = m
	return h
}

// Bounds returns the hook's bounds against unauthenticated callers, for
// tests to lower before it serves.
func (h *Inbound) Bounds() *hookguard.Bounds { return &h.bounds }

// Register adds POST /hooks/inbound to mux.
func (h *Inbound) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /hooks/inbound", h.handleInbound)
}

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
	Request NewRequest `json:"request"`
	// Reference and Body make a follow-up (type "message").
	Reference string `json:"reference"`
	Body      string `json:"body"`
	// Attachments are files, base64-encoded.
	Attachments []struct {
		Filename      string `json:"filename"`
		ContentBase64 string `json:"content_base64"`
	} `json:"attachments"`

	// files are Attachments decoded (by parseInbound).
	files []Upload
}

// handleInbound stores a signed inbound client message through exactly the
// same validation, storage and outbox as the customer-space API. A delivery
// id is processed once: a repeated delivery (same webhook-id, valid
// signature) gets the first answer again, byte for byte, and changes nothing.
// The id is claimed in the transaction that stores the request or message,
// so a crash never leaves it claimed with nothing stored (see deliver).
func (h *Inbound) handleInbound(w http.ResponseWriter, r *http.Request) {
	cfg := h.svc.cfg.Get()
	log := h.log.WithFields(logrus.Fields{"hook": "inbound", "remote_addr": r.RemoteAddr})
	secret := cfg.Webhooks.InboundSecret.Reveal()
	if secret == "" {
		log.Warn("inbound webhook called but webhooks.inbound_secret_file is not configured")
		h.metrics.Error(w, "inbound", http.StatusServiceUnavailable, "not_configured", "inbound webhook secret not configured")
		return
	}
	// Everything that needs no body is checked before a byte of it is read:
	// the signature headers, the timestamp, the id, the declared length and
	// the concurrency cap.
	id := r.Header.Get("webhook-id")
	check, err := newStandardWebhookCheck(secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), h.svc.now(), cfg.Webhooks.InboundTolerance)
	if errors.Is(err, errBadInboundSecret) {
		log.WithError(err).Error("inbound webhook: the configured secret cannot be used")
		h.metrics.Error(w, "inbound", http.StatusServiceUnavailable, "not_configured", "inbound webhook secret is not usable")
		return
	}
	if err != nil {
		log.WithError(err).Warn("inbound webhook refused before reading its body")
		w.Header().Set("Connection", "close")
		h.metrics.Error(w, "inbound", http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	if !validWebhookID(id) {
		log.Warn("inbound webhook refused: malformed webhook-id")
		w.Header().Set("Connection", "close")
		h.metrics.Error(w, "inbound", http.StatusBadRequest, "invalid_webhook_id",
			"L'en-tête webhook-id doit être de l'ASCII imprimable, sans espace, de 200 caractères au plus.")
		return
	}
	release, ok := h.bounds.Slots.TryAcquire()
	if !ok {
		log.Warn("inbound webhook refused: too many deliveries in flight")
		h.metrics.Busy(w, "inbound")
		return
	}
	defer release()
	hookguard.SetReadDeadline(w, h.bounds.ReadTimeout)
	limit := InboundBodyLimit(cfg)
	body, err := hookguard.ReadBody(w, r, limit, check)
	if err != nil {
		log.WithError(err).Warn("inbound webhook body refused")
		h.metrics.ReadRefusal(w, "inbound", limit, err)
		return
	}
	if err := check.Verify(); err != nil {
		log.WithError(err).Warn("inbound webhook refused")
		h.metrics.Error(w, "inbound", http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	log = log.WithField("webhook_id", id)
	in, refusal := parseInbound(body)
	if refusal != nil {
		log.WithFields(logrus.Fields{"code": refusal.code, "field": refusal.field}).Warn("inbound webhook: malformed delivery refused")
		status, resp := refusal.answer()
		h.writeRaw(w, status, resp)
		return
	}
	status, resp, err := h.deliver(r.Context(), log, id, in)
	if err != nil {
		log.WithError(err).Error("inbound webhook: recording the delivery")
		h.metrics.Error(w, "inbound", http.StatusInternalServerError, "internal", "try again")
		return
	}
	h.writeRaw(w, status, resp)
}

// processInbound validates and stores one delivery, claiming its id in the
// transaction that stores it; it returns the HTTP status and JSON answer.
// lost is true when a concurrent delivery of the same id committed its claim
// first: nothing was stored and the answer is that delivery's.
func (h *Inbound) processInbound(ctx context.Context, log *logrus.Entry, id string, in InboundMessage) (status int, resp []byte, lost bool) {
	var ident Identity
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
	if err != nil {
		if ee := sessionRefusal(err); ee != nil && ee.Status < 500 {
			return answer(errJSON(http.StatusUnprocessableEntity, ee.Code, "identity", ee.Message))
		}
		var ee *Error
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
		req, err := h.svc.CreateRequest(claimed, ident, in.Request, files, SourceInbound)
		if errors.Is(err, errDeliveryClaimed) {
			return 0, nil, true
		}
		if err != nil {
			return answer(serviceErr(log, err))
		}
		log.WithField("reference", req.Reference).Info("inbound webhook: request stored")
		return answer(requestAnswer(req))
	case "message":
		req, msg, err := h.svc.AddMessageByReference(claimed, ident, in.Reference, in.Body, files, SourceInbound)
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
	var ee *Error
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

func (h *Inbound) writeRaw(w http.ResponseWriter, status int, body []byte) {
	h.metrics.Count("inbound", status)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
