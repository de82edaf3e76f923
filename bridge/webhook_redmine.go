package bridge

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/internal/hookguard"
	"passerelle/redmine"
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
		h.metrics.Error(w, "redmine", http.StatusServiceUnavailable, "not_configured", "webhook secret not configured")
		return
	}
	// The token (or the shape of the signature) is checked before a byte of
	// the body is read, then the concurrency cap; a signature is computed
	// while the body streams in.
	check, ok := redmineHookCheck(r, secret)
	if !ok {
		log.Warn("redmine webhook refused: bad or missing secret or signature")
		w.Header().Set("Connection", "close")
		h.metrics.Error(w, "redmine", http.StatusUnauthorized, "unauthenticated", "bad or missing webhook secret or signature")
		return
	}
	release, ok := h.redmine.Slots.TryAcquire()
	if !ok {
		log.Warn("redmine webhook refused: too many deliveries in flight")
		h.metrics.Busy(w, "redmine")
		return
	}
	defer release()
	hookguard.SetReadDeadline(w, h.redmine.ReadTimeout)
	body, err := hookguard.ReadBody(w, r, maxRedmineHookBody, check)
	if err != nil {
		log.WithError(err).Warn("redmine webhook body refused")
		h.metrics.ReadRefusal(w, "redmine", maxRedmineHookBody, err)
		return
	}
	if err := check.Verify(); err != nil {
		log.Warn("redmine webhook refused: bad signature")
		h.metrics.Error(w, "redmine", http.StatusUnauthorized, "unauthenticated", "bad or missing webhook secret or signature")
		return
	}
	issueID, err := issueIDFromHook(body)
	if err != nil {
		log.WithError(err).Warn("redmine webhook refused: malformed payload")
		h.metrics.Error(w, "redmine", http.StatusBadRequest, "malformed", err.Error())
		return
	}
	log = log.WithField("issue_id", issueID)
	if _, err := h.store.RequestByIssue(r.Context(), issueID); errors.Is(err, espaceclient.ErrNotFound) {
		log.Debug("redmine webhook for an issue Passerelle does not mirror: ignored")
		w.WriteHeader(http.StatusAccepted)
		return
	} else if err != nil {
		log.WithError(err).Error("redmine webhook: looking up the issue")
		h.metrics.Error(w, "redmine", http.StatusInternalServerError, "internal", "try again")
		return
	}
	if err := h.bridge.Nudge(r.Context(), issueID); err != nil {
		log.WithError(err).Error("redmine webhook: enqueuing the refresh")
		h.metrics.Error(w, "redmine", http.StatusInternalServerError, "internal", "try again")
		return
	}
	log.Info("redmine webhook: issue refresh enqueued")
	h.metrics.Count("redmine", http.StatusAccepted)
	w.WriteHeader(http.StatusAccepted)
}

// issueIDFromHook finds the issue id in the plugin's payload
// ({"payload":{"issue":{"id":N}}}) or a native webhook ({"issue":{"id":N}},
// {"data":{"issue":{"id":N}}} or {"type":"issue...","data":{"id":N}}).
func issueIDFromHook(body []byte) (redmine.IssueID, error) {
	type idOnly struct {
		ID redmine.IssueID `json:"id"`
	}
	var p struct {
		Payload *struct {
			Issue *idOnly `json:"issue"`
		} `json:"payload"`
		Issue *idOnly `json:"issue"`
		Type  string  `json:"type"`
		Data  *struct {
			Issue *idOnly         `json:"issue"`
			ID    redmine.IssueID `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return 0, errors.New("body is not JSON")
	}
	var id redmine.IssueID
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
