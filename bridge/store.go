package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/config"
	"passerelle/espaceclient"
)

// Store is what the bridge needs from the customer space's store. It is
// declared here, by its consumer; *espaceclient.Store implements it.
type Store interface {
	GetRequest(ctx context.Context, id string) (espaceclient.Request, error)
	GetRequestThread(ctx context.Context, id string, withData bool) (espaceclient.Request, error)
	GetMessage(ctx context.Context, id string, withData bool) (espaceclient.Message, error)
	RequestByIssue(ctx context.Context, issueID int) (espaceclient.Request, error)
	RecordMirrored(ctx context.Context, requestID string, issueID int, redmineStatus string, cs config.ClientStatus, needsAttention, ackBody string, at time.Time) error
	MarkMessageMirrored(ctx context.Context, messageID string, journalID *int, at time.Time) error
	SetMirrorError(ctx context.Context, requestID, msg string) error
	AddStaffMessage(ctx context.Context, requestID string, journalID int, authorName, body string, at time.Time, atts []espaceclient.Attachment) (bool, error)
	ApplyRedmineStatus(ctx context.Context, requestID string, journalID *int, redmineStatus string, cs config.ClientStatus, label string, at time.Time) (bool, error)
	AddStaffAttachment(ctx context.Context, requestID string, redmineAttachmentID int, filename, contentType string, data []byte, at time.Time) (bool, error)
	AttachmentKnown(ctx context.Context, redmineAttachmentID int) (bool, error)
	PendingClientActions(ctx context.Context, requestID string, since time.Time) (int, error)
}

// syncStore holds the bridge's own tables: poll cursors and per-issue sync
// state. All of the bridge's SQL is in this file.
type syncStore struct{ pool *pgxpool.Pool }

// cursor returns the named poll cursor, or ok=false when never stored.
func (s syncStore) cursor(ctx context.Context, name string) (time.Time, bool, error) {
	var t time.Time
	err := s.pool.QueryRow(ctx, `SELECT cursor_at FROM sync_cursors WHERE name = $1`, name).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading cursor %s: %w", name, err)
	}
	return t, true, nil
}

// setCursor moves the named cursor forward (never backward).
func (s syncStore) setCursor(ctx context.Context, name string, t time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO sync_cursors (name, cursor_at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET cursor_at = GREATEST(sync_cursors.cursor_at, EXCLUDED.cursor_at), updated_at = now()`, name, t)
	if err != nil {
		return fmt.Errorf("storing cursor %s: %w", name, err)
	}
	return nil
}

// issueUpdatedOn returns the updated_on last applied for an issue.
func (s syncStore) issueUpdatedOn(ctx context.Context, issueIDs []int) (map[int]time.Time, error) {
	out := make(map[int]time.Time, len(issueIDs))
	if len(issueIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT issue_id, updated_on FROM issue_sync_state WHERE issue_id = ANY($1)`, issueIDs)
	if err != nil {
		return nil, fmt.Errorf("reading issue sync state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var t time.Time
		if err := rows.Scan(&id, &t); err != nil {
			return nil, err
		}
		out[id] = t
	}
	return out, rows.Err()
}

// setIssueUpdatedOn records that an issue was applied as of updated_on.
func (s syncStore) setIssueUpdatedOn(ctx context.Context, issueID int, t time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO issue_sync_state (issue_id, updated_on) VALUES ($1, $2)
		ON CONFLICT (issue_id) DO UPDATE SET updated_on = GREATEST(issue_sync_state.updated_on, EXCLUDED.updated_on), synced_at = now()`, issueID, t)
	if err != nil {
		return fmt.Errorf("storing issue %d sync state: %w", issueID, err)
	}
	return nil
}

// withRequestLock runs fn while holding a session advisory lock on a request,
// so two workers (two replicas, or a job rescued while the first attempt still
// runs) never mirror the same request at once. ok is false when another
// holder has it.
func (s syncStore) withRequestLock(ctx context.Context, requestID string, fn func() error) (ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquiring a connection for the request lock: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(7411, hashtext($1))`, requestID).Scan(&got); err != nil {
		return false, fmt.Errorf("taking the request lock: %w", err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		// Unlock on a fresh context: the job's may be cancelled.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock(7411, hashtext($1))`, requestID); uerr != nil {
			conn.Conn().Close(uctx) // closing the session releases the lock
		}
	}()
	return true, fn()
}

// MirrorErrors lists the requests that could not be mirrored and why, one
// line each, for `passerelle check --live`.
func MirrorErrors(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT reference, mirror_error FROM requests WHERE mirror_error <> '' AND redmine_issue_id IS NULL ORDER BY created_at`)
	if err != nil {
		return nil, fmt.Errorf("listing requests that could not be mirrored: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ref, msg string
		if err := rows.Scan(&ref, &msg); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("request %s not mirrored: %s", ref, msg))
	}
	return out, rows.Err()
}

// deliveryStore records inbound webhook deliveries by webhook-id.
type deliveryStore struct{ pool *pgxpool.Pool }

// begin claims a delivery id. fresh is true for a new id; otherwise status
// and response are the first answer (status 0: still being processed).
func (s deliveryStore) begin(ctx context.Context, id string) (status int, response []byte, fresh bool, err error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO inbound_deliveries (webhook_id, status_code, response) VALUES ($1, 0, '') ON CONFLICT (webhook_id) DO NOTHING`, id)
	if err != nil {
		return 0, nil, false, fmt.Errorf("claiming delivery %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return 0, nil, true, nil
	}
	err = s.pool.QueryRow(ctx, `SELECT status_code, response FROM inbound_deliveries WHERE webhook_id = $1`, id).Scan(&status, &response)
	if err != nil {
		return 0, nil, false, fmt.Errorf("reading delivery %s: %w", id, err)
	}
	return status, response, false, nil
}

// finish stores a delivery's answer.
func (s deliveryStore) finish(ctx context.Context, id string, status int, response []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE inbound_deliveries SET status_code = $2, response = $3 WHERE webhook_id = $1`, id, status, string(response))
	return err
}

// forget drops a delivery that failed on our side, so it may be retried.
func (s deliveryStore) forget(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM inbound_deliveries WHERE webhook_id = $1`, id)
	return err
}

type unmirroredRequest struct{ id, reference string }

type unmirroredMessage struct {
	id, requestID, reference string
	close                    bool
}

// unmirrored lists the requests without a Redmine issue and the client
// messages and closings not mirrored (of requests that have an issue), for
// Resync; references, when given, restrict both.
func (s syncStore) unmirrored(ctx context.Context, references []string) ([]unmirroredRequest, []unmirroredMessage, error) {
	all := len(references) == 0
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, reference FROM requests
		WHERE redmine_issue_id IS NULL AND ($1 OR reference = ANY($2::text[]))
		ORDER BY created_at`, all, references)
	if err != nil {
		return nil, nil, fmt.Errorf("listing unmirrored requests: %w", err)
	}
	var reqs []unmirroredRequest
	for rows.Next() {
		var r unmirroredRequest
		if err := rows.Scan(&r.id, &r.reference); err != nil {
			rows.Close()
			return nil, nil, err
		}
		reqs = append(reqs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = s.pool.Query(ctx, `
		SELECT m.id::text, r.id::text, r.reference, m.kind = 'closed' FROM messages m JOIN requests r ON r.id = m.request_id
		WHERE m.mirrored_at IS NULL AND r.redmine_issue_id IS NOT NULL
		  AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed')
		  AND ($1 OR r.reference = ANY($2::text[]))
		ORDER BY m.created_at`, all, references)
	if err != nil {
		return nil, nil, fmt.Errorf("listing unmirrored messages: %w", err)
	}
	defer rows.Close()
	var msgs []unmirroredMessage
	for rows.Next() {
		var m unmirroredMessage
		if err := rows.Scan(&m.id, &m.requestID, &m.reference, &m.close); err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
	}
	return reqs, msgs, rows.Err()
}
