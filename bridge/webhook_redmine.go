package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
)

// maxRedmineHookBody bounds a webhook body; the plugin's payload is a few KB.
const maxRedmineHookBody = 1 << 20

// handleRedmineHook takes a Redmine webhook (the redmine_webhook plugin of
// Redmine 5, or Redmine 7's native webhooks) as a mere nudge: once
// authenticated, only the issue id is read, and a job re-fetches that issue
// through the API. Nothing else in the body is trusted.
//
// Authentication: a shared secret, sent by the plugin in the URL (?token=) or
// in the X-Passerelle-Token header, or Redmine 7's X-Redmine-Signature-256
// (sha256=HMAC-SHA256 of the body with the secret). Compared in constant time.
func (h *Hooks) handleRedmineHook(w http.ResponseWriter, r *http.Request) {
	log := h.log.WithFields(logrus.Fields{"hook": "redmine", "remote_addr": r.RemoteAddr})
	secret := h.holder.Get().Webhooks.RedmineSecret.Reveal()
	if secret == "" {
		log.Warn("redmine webhook called but webhooks.redmine_secret_file is not configured")
		hookError(w, "redmine", http.StatusServiceUnavailable, "not_configured", "webhook secret not configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRedmineHookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			log.Warn("redmine webhook body too large")
			hookError(w, "redmine", http.StatusRequestEntityTooLarge, "too_large", "body over 1 MiB")
			return
		}
		hookError(w, "redmine", http.StatusBadRequest, "unreadable", "body could not be read")
		return
	}
	if !redmineHookAuthentic(r, body, secret) {
		log.Warn("redmine webhook refused: bad or missing secret or signature")
		hookError(w, "redmine", http.StatusUnauthorized, "unauthenticated", "bad or missing webhook secret or signature")
		return
	}
	issueID, err := issueIDFromHook(body)
	if err != nil {
		log.WithError(err).Warn("redmine webhook refused: malformed payload")
		hookError(w, "redmine", http.StatusBadRequest, "malformed", err.Error())
		return
	}
	log = log.WithField("issue_id", issueID)
	if _, err := h.store.RequestByIssue(r.Context(), issueID); errors.Is(err, espaceclient.ErrNotFound) {
		log.Debug("redmine webhook for an issue Passerelle does not mirror: ignored")
		w.WriteHeader(http.StatusAccepted)
		return
	} else if err != nil {
		log.WithError(err).Error("redmine webhook: looking up the issue")
		hookError(w, "redmine", http.StatusInternalServerError, "internal", "try again")
		return
	}
	if err := h.bridge.Nudge(r.Context(), issueID); err != nil {
		log.WithError(err).Error("redmine webhook: enqueuing the refresh")
		hookError(w, "redmine", http.StatusInternalServerError, "internal", "try again")
		return
	}
	log.Info("redmine webhook: issue refresh enqueued")
	hookCalls.WithLabelValues("redmine", "202").Inc()
	w.WriteHeader(http.StatusAccepted)
}

// redmineHookAuthentic checks the shared secret or the HMAC signature.
func redmineHookAuthentic(r *http.Request, body []byte, secret string) bool {
	if sig := r.Header.Get("X-Redmine-Signature-256"); sig != "" {
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return false
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			return false
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return hmac.Equal(got, mac.Sum(nil))
	}
	token := r.Header.Get("X-Passerelle-Token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}

// issueIDFromHook finds the issue id in the plugin's payload
// ({"payload":{"issue":{"id":N}}}) or a native webhook ({"issue":{"id":N}},
// {"data":{"issue":{"id":N}}} or {"type":"issue...","data":{"id":N}}).
func issueIDFromHook(body []byte) (int, error) {
	type idOnly struct {
		ID int `json:"id"`
	}
	var p struct {
		Payload *struct {
			Issue *idOnly `json:"issue"`
		} `json:"payload"`
		Issue *idOnly `json:"issue"`
		Type  string  `json:"type"`
		Data  *struct {
			Issue *idOnly `json:"issue"`
			ID    int     `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return 0, errors.New("body is not JSON")
	}
	var id int
	switch {
	case p.Payload != nil && p.Payload.Issue != nil:
		id = p.Payload.Issue.ID
	case p.Issue != nil:
		id = p.Issue.ID
	case p.Data != nil && p.Data.Issue != nil:
		id = p.Data.Issue.ID
	case p.Data != nil && strings.HasPrefix(p.Type, "issue"):
		id = p.Data.ID
	}
	if id <= 0 {
		return 0, errors.New("no issue id in the payload (expected payload.issue.id or issue.id)")
	}
	return id, nil
}

func hookError(w http.ResponseWriter, hook string, status int, code, msg string) {
	hookCalls.WithLabelValues(hook, strconv.Itoa(status)).Inc()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
