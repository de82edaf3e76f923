package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
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
}

// VerifyStandardWebhook checks a Standard Webhooks signature: the
// webhook-signature header holds space-separated "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" entries; the secret is "whsec_<base64>" (or raw bytes);
// the timestamp must be within tolerance of now. It returns a reason when the
// delivery must be refused.
func VerifyStandardWebhook(secret, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" || timestamp == "" || signatures == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a Unix time in seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp is %s away from now (tolerance %s)", d.Round(time.Second), tolerance)
	}
	key := []byte(secret)
	if s, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err = base64.StdEncoding.DecodeString(s); err != nil {
			return errors.New("inbound webhook secret is not valid whsec_ base64")
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(signatures) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid v1 signature")
}

// SignStandardWebhook returns the webhook-signature value for a delivery
// (for senders and tests).
func SignStandardWebhook(secret, id, timestamp string, body []byte) string {
	key := []byte(secret)
	if s, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(s); err == nil {
			key = k
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// handleInbound stores a signed inbound client message through exactly the
// same validation, storage and outbox as the customer-space API. A delivery
// id is processed once: a repeated delivery (same webhook-id, valid
// signature) gets the first answer again and changes nothing.
func (h *Hooks) handleInbound(w http.ResponseWriter, r *http.Request) {
	cfg := h.holder.Get()
	log := h.log.WithFields(logrus.Fields{"hook": "inbound", "remote_addr": r.RemoteAddr})
	secret := cfg.Webhooks.InboundSecret.Reveal()
	if secret == "" {
		log.Warn("inbound webhook called but webhooks.inbound_secret_file is not configured")
		hookError(w, "inbound", http.StatusServiceUnavailable, "not_configured", "inbound webhook secret not configured")
		return
	}
	limit := int64(cfg.Uploads.MaxFiles)*int64(cfg.Uploads.MaxFileSize)*4/3 + 1<<20
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			log.Warn("inbound webhook body too large")
			hookError(w, "inbound", http.StatusRequestEntityTooLarge, "too_large", "body too large")
			return
		}
		hookError(w, "inbound", http.StatusBadRequest, "unreadable", "body could not be read")
		return
	}
	id := r.Header.Get("webhook-id")
	if err := VerifyStandardWebhook(secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, h.bridge.now(), cfg.Webhooks.InboundTolerance); err != nil {
		log.WithError(err).Warn("inbound webhook refused")
		hookError(w, "inbound", http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	log = log.WithField("webhook_id", id)
	status, resp, fresh, err := h.deliveries.begin(r.Context(), id)
	if err != nil {
		log.WithError(err).Error("inbound webhook: recording the delivery")
		hookError(w, "inbound", http.StatusInternalServerError, "internal", "try again")
		return
	}
	if !fresh {
		if status == 0 {
			hookError(w, "inbound", http.StatusConflict, "in_progress", "this delivery is being processed; retry later")
			return
		}
		log.Info("inbound webhook: repeated delivery, answering the first result")
		writeRaw(w, status, resp)
		return
	}
	status, resp = h.processInbound(r.Context(), log, body)
	if status >= 500 {
		// Let the sender retry this id: nothing was stored.
		if err := h.deliveries.forget(context.WithoutCancel(r.Context()), id); err != nil {
			log.WithError(err).Error("inbound webhook: forgetting a failed delivery")
		}
	} else if err := h.deliveries.finish(context.WithoutCancel(r.Context()), id, status, resp); err != nil {
		log.WithError(err).Error("inbound webhook: recording the result")
	}
	writeRaw(w, status, resp)
}

// processInbound validates and stores one delivery; it returns the HTTP
// status and JSON answer.
func (h *Hooks) processInbound(ctx context.Context, log *logrus.Entry, body []byte) (int, []byte) {
	var in InboundMessage
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return errJSON(http.StatusBadRequest, "malformed", "", "body is not the expected JSON: "+err.Error())
	}
	var ident espaceclient.Identity
	var err error
	switch {
	case in.Identity.ID != "":
		ident, err = h.identities.ByID(ctx, in.Identity.ID)
	case in.Identity.Email != "":
		ident, err = h.identities.ByEmail(ctx, in.Identity.Email)
	default:
		return errJSON(http.StatusUnprocessableEntity, "required", "identity", "identity.id or identity.email is required")
	}
	if errors.Is(err, espaceclient.ErrNotFound) || errors.Is(err, espaceclient.ErrIdentityInactive) {
		return errJSON(http.StatusUnprocessableEntity, "unknown_identity", "identity", "no active client with that identity")
	}
	if err != nil {
		var ee *espaceclient.Error
		if errors.As(err, &ee) && ee.Status < 500 {
			return errJSON(http.StatusUnprocessableEntity, ee.Code, "identity", ee.Message)
		}
		log.WithError(err).Error("inbound webhook: looking up the identity")
		return errJSON(http.StatusServiceUnavailable, "identity_unavailable", "", "identities cannot be read now; retry")
	}
	var files []espaceclient.Upload
	for i, a := range in.Attachments {
		data, err := base64.StdEncoding.DecodeString(a.ContentBase64)
		if err != nil {
			return errJSON(http.StatusBadRequest, "malformed", fmt.Sprintf("attachments[%d].content_base64", i), "not valid base64")
		}
		files = append(files, espaceclient.Upload{Filename: a.Filename, Data: data})
	}
	log = log.WithField("identity_id", ident.ID)
	switch in.Type {
	case "request":
		req, err := h.svc.CreateRequest(ctx, ident, in.Request, files, "inbound")
		if err != nil {
			return serviceErr(log, err)
		}
		log.WithField("reference", req.Reference).Info("inbound webhook: request stored")
		return okJSON(http.StatusCreated, map[string]any{"request": req})
	case "message":
		req, msg, err := h.svc.AddMessageByReference(ctx, ident, in.Reference, in.Body, files, "inbound")
		if err != nil {
			return serviceErr(log, err)
		}
		log.WithField("reference", req.Reference).Info("inbound webhook: message stored")
		return okJSON(http.StatusCreated, map[string]any{"request_id": req.ID, "reference": req.Reference, "message": msg})
	}
	return errJSON(http.StatusUnprocessableEntity, "invalid_value", "type", `type must be "request" or "message"`)
}

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
