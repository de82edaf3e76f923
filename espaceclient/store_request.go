package espaceclient

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
	"passerelle/redmine"
)

const requestColumns = `r.id::text, r.reference, r.identity_id::text, r.author_role, r.author_name, r.author_email,
	r.category, r.subject, r.location, r.urgency, r.payer, r.lot, r.mandate, r.status, r.redmine_status,
	r.redmine_issue_id, r.mirror_error, r.needs_attention, r.linked_request_id::text, r.due_at,
	r.created_at, r.updated_at, r.closed_at`

func scanRequest(row pgx.Row) (Request, error) {
	var r Request
	var role, status string
	err := row.Scan(&r.ID, &r.Reference, &r.IdentityID, &role, &r.AuthorName, &r.AuthorEmail,
		&r.Category, &r.Subject, &r.Location, &r.Urgency, &r.Payer, &r.Lot, &r.Mandate, &status, &r.RedmineStatus,
		&r.RedmineIssueID, &r.MirrorError, &r.NeedsAttention, &r.LinkedRequestID, &r.DueAt,
		&r.CreatedAt, &r.UpdatedAt, &r.ClosedAt)
	if err != nil {
		return Request{}, notFound(err)
	}
	r.AuthorRole = config.Role(role)
	r.Status = config.ClientStatus(status)
	return r, nil
}

// GetRequest returns one request without its thread, whoever filed it (the
// bridge's lookup; the API goes through Service, which scopes it). ErrNotFound
// when there is none.
func (s *Store) GetRequest(ctx context.Context, id string) (Request, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return getRequest(ctx, s.pool, id, false)
}

// GetRequestThread returns one request with its whole thread: messages in
// order, each with its attachments, their bytes loaded only when withData.
// Unscoped (the bridge's lookup). ErrNotFound when there is none.
func (s *Store) GetRequestThread(ctx context.Context, id string, withData bool) (Request, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	req, err := getRequest(ctx, s.pool, id, false)
	if err != nil {
		return Request{}, err
	}
	if err := loadThread(ctx, s.pool, &req, withData); err != nil {
		return Request{}, err
	}
	return req, nil
}

// RequestByIssue returns the request mirrored as Redmine issue issueID,
// without its thread. ErrNotFound when no request has that issue.
func (s *Store) RequestByIssue(ctx context.Context, issueID redmine.IssueID) (Request, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return scanRequest(s.pool.QueryRow(ctx, `SELECT `+requestColumns+` FROM requests r WHERE r.redmine_issue_id = $1`, issueID))
}

// RequestByReference returns the request with that reference (D-2026-000123),
// without its thread. Unscoped. ErrNotFound when there is none.
func (s *Store) RequestByReference(ctx context.Context, reference string) (Request, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return scanRequest(s.pool.QueryRow(ctx, `SELECT `+requestColumns+` FROM requests r WHERE r.reference = $1`, reference))
}

func getRequest(ctx context.Context, q querier, id string, forUpdate bool) (Request, error) {
	if !validUUID(id) {
		return Request{}, ErrNotFound
	}
	sql := `SELECT ` + requestColumns + ` FROM requests r WHERE r.id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	return scanRequest(q.QueryRow(ctx, sql, id))
}

// ListScope says whose requests a listing returns: those filed by IdentityID,
// plus those filed on one of Lots (an owner's lots; empty for tenants) in one
// of SharedCategories (the categories shared with owners).
type ListScope struct {
	IdentityID       string
	Lots             []string
	SharedCategories []string
	// Status keeps only the requests in that client status; "" keeps all.
	Status config.ClientStatus
}

// ListRequests returns the requests of a scope, newest first, without their
// threads.
func (s *Store) ListRequests(ctx context.Context, sc ListScope) ([]Request, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !validUUID(sc.IdentityID) {
		return []Request{}, nil
	}
	lots := sc.Lots
	if lots == nil {
		lots = []string{}
	}
	shared := sc.SharedCategories
	if shared == nil {
		shared = []string{}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+requestColumns+` FROM requests r
		WHERE (r.identity_id = $1 OR (r.lot <> '' AND r.lot = ANY($2::text[]) AND r.category = ANY($4::text[])))
		  AND ($3 = '' OR r.status = $3)
		ORDER BY r.created_at DESC, r.reference DESC`, sc.IdentityID, lots, string(sc.Status), shared)
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	out := []Request{}
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	return out, nil
}

// insertRequest stores req (its ID, Reference and timestamps must be set by
// the caller, except ID which PostgreSQL generates) and returns it with its ID.
func insertRequest(ctx context.Context, tx pgx.Tx, req Request) (Request, error) {
	err := tx.QueryRow(ctx, `
		INSERT INTO requests (reference, identity_id, author_role, author_name, author_email, category, subject,
			location, urgency, payer, lot, mandate, status, linked_request_id, due_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
		RETURNING id::text`,
		req.Reference, req.IdentityID, string(req.AuthorRole), req.AuthorName, req.AuthorEmail, req.Category, req.Subject,
		req.Location, req.Urgency, req.Payer, req.Lot, req.Mandate, string(req.Status), req.LinkedRequestID, req.DueAt,
		req.CreatedAt).Scan(&req.ID)
	if err != nil {
		return Request{}, fmt.Errorf("storing request: %w", err)
	}
	req.UpdatedAt = req.CreatedAt
	return req, nil
}

// setClientStatus changes a request's client status inside tx; closed_at is
// set to at when the status is closed and cleared otherwise. updated_at
// becomes at unless it is later already: it never moves back (at may be a
// Redmine journal's time, older than the request's last change).
func setClientStatus(ctx context.Context, tx pgx.Tx, req *Request, status config.ClientStatus, at time.Time) error {
	var closedAt *time.Time
	if status == config.StatusClosed {
		closedAt = &at
	}
	_, err := tx.Exec(ctx, `UPDATE requests SET status = $2, closed_at = $3, updated_at = GREATEST(updated_at, $4) WHERE id = $1`,
		req.ID, string(status), closedAt, at)
	if err != nil {
		return fmt.Errorf("changing request status: %w", err)
	}
	req.Status, req.ClosedAt = status, closedAt
	if at.After(req.UpdatedAt) {
		req.UpdatedAt = at
	}
	return nil
}

// touchRequest sets updated_at.
func touchRequest(ctx context.Context, tx pgx.Tx, req *Request, at time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE requests SET updated_at = GREATEST(updated_at, $2) WHERE id = $1`, req.ID, at); err != nil {
		return fmt.Errorf("touching request: %w", err)
	}
	if at.After(req.UpdatedAt) {
		req.UpdatedAt = at
	}
	return nil
}

// newThreadItem is a message to store with its checked files.
type newThreadItem struct {
	msg   Message
	files []checkedFile
}

// createRequest stores a new request with its first message and files, taking
// the year's next reference, then calls hook in the same transaction: if the
// hook fails nothing is stored. It returns what was stored.
func (s *Store) createRequest(ctx context.Context, req Request, first newThreadItem, prefix string, year int,
	hook func(tx pgx.Tx, req Request, msg Message) error) (Request, Message, error) {
	var outReq Request
	var outMsg Message
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ref, err := nextReference(ctx, tx, prefix, year)
		if err != nil {
			return err
		}
		req.Reference = ref
		r, err := insertRequest(ctx, tx, req)
		if err != nil {
			return err
		}
		m := first.msg
		m.RequestID = r.ID
		m, err = insertMessage(ctx, tx, m, first.files)
		if err != nil {
			return err
		}
		if err := hook(tx, r, m); err != nil {
			return err
		}
		outReq, outMsg = r, m
		return nil
	})
	if err != nil {
		return Request{}, Message{}, err
	}
	return outReq, outMsg, nil
}
