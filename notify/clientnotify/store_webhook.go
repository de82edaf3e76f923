package clientnotify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/config"
	"passerelle/redmine"
)

// The SQL of the outbound webhooks (outbound_deliveries, outbound_endpoints).

// eventData is what an event's payload says of its request and message.
type eventData struct {
	pendingMessage
	Reference, Subject, Category, AuthorName, MessageAuthor, Body string
	RequestStatus                                                 config.ClientStatus
	RedmineIssueID                                                *redmine.IssueID
	Files                                                         []string
	CreatedAt                                                     time.Time
}

func (s store) eventData(ctx context.Context, tx pgx.Tx, p pendingMessage) (eventData, error) {
	e := eventData{pendingMessage: p}
	var st string
	err := tx.QueryRow(ctx, `
		SELECT r.reference, r.subject, r.category, r.author_name, r.status, r.redmine_issue_id,
		       m.author_name, m.body, m.created_at,
		       coalesce((SELECT array_agg(a.filename ORDER BY a.created_at, a.id) FROM attachments a WHERE a.message_id = m.id), '{}')
		FROM messages m JOIN requests r ON r.id = m.request_id WHERE m.id = $1`, p.ID).
		Scan(&e.Reference, &e.Subject, &e.Category, &e.AuthorName, &st, &e.RedmineIssueID, &e.MessageAuthor, &e.Body, &e.CreatedAt, &e.Files)
	if err != nil {
		return eventData{}, fmt.Errorf("reading the event of message %s: %w", p.ID, err)
	}
	e.RequestStatus = config.ClientStatus(st)
	return e, nil
}

// insertDelivery inserts one delivery; "" when the endpoint already has one
// for this message.
func (s store) insertDelivery(ctx context.Context, tx pgx.Tx, endpoint, messageID, eventType string, payload []byte, now time.Time) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `
		INSERT INTO outbound_deliveries (endpoint, message_id, event_type, payload, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (endpoint, message_id) DO NOTHING
		RETURNING id`, endpoint, messageID, eventType, payload, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inserting the delivery of message %s to %s: %w", messageID, endpoint, err)
	}
	return id, nil
}

type delivery struct {
	ID, Endpoint, Status string
	Payload              []byte
}

func (s store) lockDelivery(ctx context.Context, tx pgx.Tx, id string) (delivery, bool, error) {
	var d delivery
	err := tx.QueryRow(ctx, `SELECT id, endpoint, status, payload::text FROM outbound_deliveries WHERE id = $1 FOR UPDATE SKIP LOCKED`, id).
		Scan(&d.ID, &d.Endpoint, &d.Status, &d.Payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery{}, false, nil
	}
	if err != nil {
		return delivery{}, false, fmt.Errorf("locking delivery %s: %w", id, err)
	}
	return d, true, nil
}

func (s store) setDelivery(ctx context.Context, tx pgx.Tx, id, status string, httpStatus int, lastError string, now time.Time) error {
	var at *time.Time
	if status == "delivered" {
		at = &now
	}
	_, err := tx.Exec(ctx, `
		UPDATE outbound_deliveries SET status = $2, last_status = $3, last_error = $4, delivered_at = $5, attempts = attempts + 1
		WHERE id = $1`, id, status, httpStatus, lastError, at)
	if err != nil {
		return fmt.Errorf("recording delivery %s: %w", id, err)
	}
	return nil
}

func (s store) endpointDisabled(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var disabled bool
	err := tx.QueryRow(ctx, `SELECT disabled_at IS NOT NULL FROM outbound_endpoints WHERE name = $1`, name).Scan(&disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading endpoint %s: %w", name, err)
	}
	return disabled, nil
}

// endpointOK records a success: the endpoint is healthy again.
func (s store) endpointOK(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO outbound_endpoints (name) VALUES ($1)
		ON CONFLICT (name) DO UPDATE SET failing_since = NULL, last_error = ''`, name)
	if err != nil {
		return fmt.Errorf("recording endpoint %s healthy: %w", name, err)
	}
	return nil
}

// endpointFailed records a failure and returns since when the endpoint fails.
func (s store) endpointFailed(ctx context.Context, tx pgx.Tx, name, lastError string, now time.Time) (time.Time, error) {
	var since time.Time
	err := tx.QueryRow(ctx, `
		INSERT INTO outbound_endpoints (name, failing_since, last_error) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET failing_since = coalesce(outbound_endpoints.failing_since, EXCLUDED.failing_since),
		                                 last_error = EXCLUDED.last_error
		RETURNING failing_since`, name, now, lastError).Scan(&since)
	if err != nil {
		return time.Time{}, fmt.Errorf("recording endpoint %s failing: %w", name, err)
	}
	return since, nil
}

func (s store) disableEndpoint(ctx context.Context, tx pgx.Tx, name string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE outbound_endpoints SET disabled_at = $2 WHERE name = $1`, name, now); err != nil {
		return fmt.Errorf("disabling endpoint %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE outbound_deliveries SET status = 'failed', last_error = 'endpoint disabled after failing for a day'
		WHERE endpoint = $1 AND status = 'pending'`, name); err != nil {
		return fmt.Errorf("giving up the deliveries of endpoint %s: %w", name, err)
	}
	return nil
}

// Endpoint is one outbound endpoint's state, for admins.
type Endpoint struct {
	Name                       string
	FailingSince, DisabledAt   *time.Time
	LastError                  string
	Pending, Delivered, Failed int
}

// ListEndpoints returns the state of every endpoint that was ever used.
func ListEndpoints(ctx context.Context, pool *pgxpool.Pool) ([]Endpoint, error) {
	rows, err := pool.Query(ctx, `
		SELECT e.name, e.failing_since, e.disabled_at, e.last_error,
		       count(*) FILTER (WHERE d.status = 'pending'), count(*) FILTER (WHERE d.status = 'delivered'),
		       count(*) FILTER (WHERE d.status = 'failed')
		FROM outbound_endpoints e LEFT JOIN outbound_deliveries d ON d.endpoint = e.name
		GROUP BY e.name ORDER BY e.name`)
	if err != nil {
		return nil, fmt.Errorf("listing endpoints: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Endpoint, error) {
		var e Endpoint
		err := row.Scan(&e.Name, &e.FailingSince, &e.DisabledAt, &e.LastError, &e.Pending, &e.Delivered, &e.Failed)
		return e, err
	})
}

// EnableEndpoint re-enables a disabled endpoint (its failed deliveries stay
// failed: the next events go out).
func EnableEndpoint(ctx context.Context, pool *pgxpool.Pool, name string) (bool, error) {
	tag, err := pool.Exec(ctx, `UPDATE outbound_endpoints SET disabled_at = NULL, failing_since = NULL WHERE name = $1`, name)
	if err != nil {
		return false, fmt.Errorf("enabling endpoint %s: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}
