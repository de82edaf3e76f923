package clientnotify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/config"
	"passerelle/redmine"
)

// store holds every SQL statement of the package (client_notifications, and
// what it reads of messages, requests, attachments and client_preferences).
type store struct{ pool *pgxpool.Pool }

// pendingMessages locks, in tx, up to limit messages not looked at yet,
// oldest first, with what eventOf and the notification rows need.
func (s store) pendingMessages(ctx context.Context, tx pgx.Tx, limit int) ([]pendingMessage, error) {
	rows, err := tx.Query(ctx, `
		SELECT m.id, m.request_id, m.author_kind, m.kind, m.client_status,
		       NOT EXISTS (SELECT 1 FROM messages p WHERE p.request_id = m.request_id
		                   AND (p.created_at, p.id) < (m.created_at, m.id)),
		       r.identity_id::text, r.author_email,
		       coalesce((SELECT email_mode FROM client_preferences cp WHERE cp.identity_id = r.identity_id::text), 'immediate'),
		       r.lot, r.category
		FROM messages m JOIN requests r ON r.id = m.request_id
		WHERE m.notified_at IS NULL
		ORDER BY m.created_at, m.id
		LIMIT $1
		FOR UPDATE OF m SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading messages to notify: %w", err)
	}
	defer rows.Close()
	var out []pendingMessage
	for rows.Next() {
		var p pendingMessage
		var cs string
		if err := rows.Scan(&p.ID, &p.RequestID, &p.AuthorKind, &p.Kind, &cs, &p.First, &p.IdentityID, &p.Email, &p.Mode, &p.Lot, &p.Category); err != nil {
			return nil, fmt.Errorf("reading messages to notify: %w", err)
		}
		p.ClientStatus = config.ClientStatus(cs)
		out = append(out, p)
	}
	return out, rows.Err()
}

// pendingMessage is a message to look at and its request's author.
type pendingMessage struct {
	threadMessage
	IdentityID, Email, Mode string
	// Lot and Category of the request (owners following their lots).
	Lot, Category string
}

// insertNotification inserts one notification row; "" when the event and
// recipient already have one (a second sweep of the same message).
func (s store) insertNotification(ctx context.Context, tx pgx.Tx, p pendingMessage, r recipient, e Event, mode string, now time.Time) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `
		INSERT INTO client_notifications (message_id, request_id, identity_id, email, event, mode, follower, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (message_id, identity_id) DO NOTHING
		RETURNING id`, p.ID, p.RequestID, r.IdentityID, r.Email, string(e), mode, r.Follower, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inserting the notification of message %s: %w", p.ID, err)
	}
	return id, nil
}

// markNotified records that the messages were looked at.
func (s store) markNotified(ctx context.Context, tx pgx.Tx, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE messages SET notified_at = $2 WHERE id = ANY($1::uuid[])`, ids, now); err != nil {
		return fmt.Errorf("marking messages notified: %w", err)
	}
	return nil
}

// notification is one row with what its mail says.
type notification struct {
	ID, MessageID, RequestID, IdentityID, Email string
	Event                                       Event
	Mode, Status                                string
	// Follower: an owner following the requests of the lot, not the author.
	Follower bool
	Lot      string
	// RecipientName greets the recipient (from Kratos at send time; the
	// author's name when empty).
	RecipientName string
	Attempts      int
	CreatedAt     time.Time
	// From the request and the message.
	Reference, Subject, AuthorName string
	RedmineIssueID                 *redmine.IssueID
	Body                           string
	ClientStatus                   config.ClientStatus
	Files                          []string
}

const notificationColumns = `n.id, n.message_id, n.request_id, n.identity_id, n.email, n.event, n.mode, n.status, n.follower, r.lot,
	n.attempts, n.created_at, r.reference, r.subject, r.author_name, r.redmine_issue_id, m.body, m.client_status,
	coalesce((SELECT array_agg(a.filename ORDER BY a.created_at, a.id) FROM attachments a WHERE a.message_id = m.id), '{}')`

func scanNotification(row pgx.Row) (notification, error) {
	var n notification
	var ev, cs string
	err := row.Scan(&n.ID, &n.MessageID, &n.RequestID, &n.IdentityID, &n.Email, &ev, &n.Mode, &n.Status, &n.Follower, &n.Lot,
		&n.Attempts, &n.CreatedAt, &n.Reference, &n.Subject, &n.AuthorName, &n.RedmineIssueID, &n.Body, &cs, &n.Files)
	n.Event, n.ClientStatus = Event(ev), config.ClientStatus(cs)
	return n, err
}

// lockNotification locks one row in tx; ok is false when another worker
// holds it (or it does not exist).
func (s store) lockNotification(ctx context.Context, tx pgx.Tx, id string) (notification, bool, error) {
	n, err := scanNotification(tx.QueryRow(ctx, `
		SELECT `+notificationColumns+`
		FROM client_notifications n JOIN requests r ON r.id = n.request_id JOIN messages m ON m.id = n.message_id
		WHERE n.id = $1
		FOR UPDATE OF n SKIP LOCKED`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return notification{}, false, nil
	}
	if err != nil {
		return notification{}, false, fmt.Errorf("locking notification %s: %w", id, err)
	}
	return n, true, nil
}

// lockDigest locks, in tx, the identity's pending digest rows created before
// until, oldest first.
func (s store) lockDigest(ctx context.Context, tx pgx.Tx, identityID string, until time.Time) ([]notification, error) {
	rows, err := tx.Query(ctx, `
		SELECT `+notificationColumns+`
		FROM client_notifications n JOIN requests r ON r.id = n.request_id JOIN messages m ON m.id = n.message_id
		WHERE n.identity_id = $1 AND n.mode = 'daily' AND n.status = 'pending' AND n.created_at < $2
		ORDER BY n.request_id, n.created_at, n.id
		FOR UPDATE OF n SKIP LOCKED`, identityID, until)
	if err != nil {
		return nil, fmt.Errorf("locking the digest of %s: %w", identityID, err)
	}
	defer rows.Close()
	var out []notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("locking the digest of %s: %w", identityID, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// digestRecipients lists the identities with pending digest rows created
// before until.
func (s store) digestRecipients(ctx context.Context, until time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT identity_id FROM client_notifications
		WHERE mode = 'daily' AND status = 'pending' AND created_at < $1`, until)
	if err != nil {
		return nil, fmt.Errorf("listing digest recipients: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// setOutcome records the outcome of the rows ids.
func (s store) setOutcome(ctx context.Context, tx pgx.Tx, ids []string, status, lastError string, now time.Time) error {
	var sentAt *time.Time
	if status == "sent" {
		sentAt = &now
	}
	_, err := tx.Exec(ctx, `
		UPDATE client_notifications SET status = $2, last_error = $3, sent_at = $4, attempts = attempts + 1
		WHERE id = ANY($1::uuid[])`, ids, status, lastError, sentAt)
	if err != nil {
		return fmt.Errorf("recording notification outcome: %w", err)
	}
	return nil
}

// Failed is a notification given up, for `passerelle notifications failed`.
type Failed struct {
	ID, Email, Event, Reference, LastError string
	Attempts                               int
	CreatedAt                              time.Time
}

// failed lists the notifications given up, newest first.
func (s store) failed(ctx context.Context, limit int) ([]Failed, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT n.id, n.email, n.event, r.reference, n.last_error, n.attempts, n.created_at
		FROM client_notifications n JOIN requests r ON r.id = n.request_id
		WHERE n.status = 'failed' ORDER BY n.created_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing failed notifications: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Failed, error) {
		var f Failed
		err := row.Scan(&f.ID, &f.Email, &f.Event, &f.Reference, &f.LastError, &f.Attempts, &f.CreatedAt)
		return f, err
	})
}

// unsubscribeToken returns the identity's one-click unsubscribe token,
// making it on first use (32 random bytes, base64url).
func (s store) unsubscribeToken(ctx context.Context, tx pgx.Tx, identityID string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making an unsubscribe token: %w", err)
	}
	var token string
	err := tx.QueryRow(ctx, `
		INSERT INTO client_preferences (identity_id, unsubscribe_token) VALUES ($1, $2)
		ON CONFLICT (identity_id) DO UPDATE
		SET unsubscribe_token = coalesce(client_preferences.unsubscribe_token, EXCLUDED.unsubscribe_token)
		RETURNING unsubscribe_token`, identityID, base64.RawURLEncoding.EncodeToString(b)).Scan(&token)
	if err != nil {
		return "", fmt.Errorf("reading the unsubscribe token of %s: %w", identityID, err)
	}
	return token, nil
}

// recipient is who one notification goes to.
type recipient struct {
	IdentityID, Email string
	Follower          bool
}

// followerPrefs returns the preferences (email_mode, follow_lots) of the
// identities that saved some.
func (s store) followerPrefs(ctx context.Context, tx pgx.Tx, ids []string) (map[string]struct {
	Mode   string
	Follow bool
}, error) {
	out := map[string]struct {
		Mode   string
		Follow bool
	}{}
	rows, err := tx.Query(ctx, `SELECT identity_id, email_mode, follow_lots FROM client_preferences WHERE identity_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading owners' preferences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, mode string
		var follow bool
		if err := rows.Scan(&id, &mode, &follow); err != nil {
			return nil, fmt.Errorf("reading owners' preferences: %w", err)
		}
		out[id] = struct {
			Mode   string
			Follow bool
		}{mode, follow}
	}
	return out, rows.Err()
}
