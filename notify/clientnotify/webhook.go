package clientnotify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// The outbound webhooks: every client-visible event (every message of a
// thread) is POSTed as JSON to each endpoint of webhooks.outbound, signed
// per Standard Webhooks (webhook-id: the delivery's id, the same on every
// attempt; webhook-timestamp; webhook-signature "v1,<base64 HMAC-SHA256>").
// The delivery row and its job are made by the sweep, in the transaction
// that makes the mail rows; the job POSTs and records the outcome in the
// transaction that holds the row's lock, so a 2xx is recorded once; a crash
// between the endpoint's 2xx and the commit gives one more POST with the
// same webhook-id, which receivers use to drop duplicates (the standard's
// rule). Failures are retried with backoff; an endpoint that has failed for
// deliveryDisableAfter is disabled and its deliveries marked failed, listed
// by `passerelle notifications webhooks`.

// DeliverArgs is one delivery to one endpoint.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind names the job in River.
func (DeliverArgs) Kind() string { return "outbound_webhook" }

// deliverMaxAttempts outlasts deliveryDisableAfter with retries capped at
// 5 min (288 a day): the endpoint is disabled before River gives up.
const deliverMaxAttempts = 400

// deliveryDisableAfter is how long an endpoint may fail before it is
// disabled.
const deliveryDisableAfter = 24 * time.Hour

// InsertOpts: unique per delivery, completed included (a completed job is a
// delivery done or given up: never again).
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: deliverMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// webhookTypeOf names a message's event for the endpoints: every message of
// a thread is client-visible (private notes never become messages).
func webhookTypeOf(m threadMessage) string {
	switch {
	case m.AuthorKind == "client" && m.Kind == "message" && m.First:
		return "request.created"
	case m.AuthorKind == "client" && m.Kind == "message":
		return "message.client"
	case m.Kind == "ack":
		return "request.transmitted"
	case m.AuthorKind == "staff" && m.Kind == "message":
		return "message.agency"
	case m.Kind == "closed", m.Kind == "status" && m.ClientStatus == config.StatusClosed:
		return "request.closed"
	case m.Kind == "reopened":
		return "request.reopened"
	case m.Kind == "status":
		return "request.status_changed"
	}
	return "message." + m.Kind
}

// webhookPayload is the JSON body of one event.
type webhookPayload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      webhookData `json:"data"`
}

type webhookData struct {
	Request webhookRequest `json:"request"`
	Message webhookMessage `json:"message"`
}

type webhookRequest struct {
	ID             string           `json:"id"`
	Reference      string           `json:"reference"`
	Subject        string           `json:"subject"`
	Category       string           `json:"category"`
	Status         string           `json:"status"`
	StatusLabel    string           `json:"status_label"`
	RedmineIssueID *redmine.IssueID `json:"redmine_issue_id"`
	URL            string           `json:"url"`
	// The author: the endpoint is the agency's own system (a portal, an SMS
	// gateway) that reaches the client.
	ClientIdentityID string `json:"client_identity_id"`
	ClientEmail      string `json:"client_email"`
	ClientName       string `json:"client_name"`
}

type webhookMessage struct {
	ID           string    `json:"id"`
	AuthorKind   string    `json:"author_kind"`
	Kind         string    `json:"kind"`
	AuthorName   string    `json:"author_name"`
	Body         string    `json:"body"`
	ClientStatus string    `json:"client_status,omitempty"`
	Attachments  []string  `json:"attachments"`
	CreatedAt    time.Time `json:"created_at"`
}

// deliverWebhook POSTs one delivery (see the top of this file).
func (s *Service) deliverWebhook(ctx context.Context, id string) error {
	rt := s.rt.Load()
	var result error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, ok, err := s.store.lockDelivery(ctx, tx, id)
		if err != nil {
			return err
		}
		if !ok {
			result = river.JobSnooze(10 * time.Second)
			return nil
		}
		if d.Status != "pending" {
			return nil
		}
		now := s.now()
		ep, configured := endpointNamed(rt.cfg, d.Endpoint)
		if !configured {
			return s.store.setDelivery(ctx, tx, d.ID, "failed", 0, "endpoint no longer configured", now)
		}
		disabled, err := s.store.endpointDisabled(ctx, tx, d.Endpoint)
		if err != nil {
			return err
		}
		if disabled {
			return s.store.setDelivery(ctx, tx, d.ID, "failed", 0, "endpoint disabled after failing for a day", now)
		}
		status, perr := s.post(ctx, ep, d.ID, d.Payload, now)
		log := s.log.WithField("endpoint", d.Endpoint).WithField("delivery_id", d.ID).WithField("status", status)
		if perr == nil {
			log.Info("outbound webhook delivered")
			if err := s.store.endpointOK(ctx, tx, d.Endpoint); err != nil {
				return err
			}
			return s.store.setDelivery(ctx, tx, d.ID, "delivered", status, "", now)
		}
		since, err := s.store.endpointFailed(ctx, tx, d.Endpoint, perr.Error(), now)
		if err != nil {
			return err
		}
		if now.Sub(since) >= deliveryDisableAfter {
			log.WithError(perr).Error("outbound webhook endpoint disabled: failing for a day")
			if err := s.store.disableEndpoint(ctx, tx, d.Endpoint, now); err != nil {
				return err
			}
			return s.store.setDelivery(ctx, tx, d.ID, "failed", status, perr.Error(), now)
		}
		log.WithError(perr).Warn("outbound webhook not delivered yet: will retry")
		result = perr
		return s.store.setDelivery(ctx, tx, d.ID, "pending", status, perr.Error(), now)
	})
	if err != nil {
		return fmt.Errorf("outbound webhook delivery %s: %w", id, err)
	}
	return result
}

// webhookClient posts with a bound and never follows a redirect (a
// receiver that moved is a configuration to fix, not a place to send to).
var webhookClient = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// post sends one signed POST; nil error for a 2xx.
func (s *Service) post(ctx context.Context, ep config.OutboundWebhook, id string, payload []byte, now time.Time) (int, error) {
	ts := strconv.FormatInt(now.Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Passerelle")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", espaceclient.SignStandardWebhook(ep.Secret.Reveal(), id, ts, payload))
	resp, err := webhookClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", config.RedactURL(ep.URL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("POST %s: HTTP %d", config.RedactURL(ep.URL), resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func endpointNamed(cfg *config.Config, name string) (config.OutboundWebhook, bool) {
	for _, o := range cfg.Webhooks.Outbound {
		if o.Name == name {
			return o, true
		}
	}
	return config.OutboundWebhook{}, false
}

// buildPayload is one message's event as JSON.
func buildPayload(s site, e eventData, now time.Time) ([]byte, error) {
	p := webhookPayload{Type: webhookTypeOf(e.threadMessage), Timestamp: now.UTC(), Data: webhookData{
		Request: webhookRequest{ID: e.RequestID, Reference: e.Reference, Subject: e.Subject, Category: e.Category,
			Status: string(e.RequestStatus), StatusLabel: espaceclient.StatusLabel(e.RequestStatus), RedmineIssueID: e.RedmineIssueID,
			URL: s.requestURL(e.RequestID), ClientIdentityID: e.IdentityID, ClientEmail: e.Email, ClientName: e.AuthorName},
		Message: webhookMessage{ID: e.ID, AuthorKind: e.AuthorKind, Kind: e.Kind, AuthorName: e.MessageAuthor, Body: e.Body,
			ClientStatus: string(e.ClientStatus), Attachments: e.Files, CreatedAt: e.CreatedAt.UTC()},
	}}
	if p.Data.Message.Attachments == nil {
		p.Data.Message.Attachments = []string{}
	}
	return json.Marshal(p)
}
