package espaceclient

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The deadline-facing reads and writes (issue 5): a request's history as the
// deadline computation needs it (the request and its thread, without the
// attachments), and the stored next due time. The computation itself lives in
// the deadlines package (deadlines/sla); only SQL on requests and messages is here.

// RequestHistory returns a request with its whole thread in order, without
// attachments. Unscoped. ErrNotFound when there is none.
func (s *Store) RequestHistory(ctx context.Context, requestID string) (Request, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	req, err := getRequest(ctx, s.pool, requestID, false)
	if err != nil {
		return Request{}, err
	}
	if err := loadHistories(ctx, s.pool, []*Request{&req}); err != nil {
		return Request{}, err
	}
	return req, nil
}

// LockRequestHistory is RequestHistory inside tx, with the request row locked
// until tx ends: the history cannot change under a computation that stores
// its result in the same transaction.
func LockRequestHistory(ctx context.Context, tx pgx.Tx, requestID string) (Request, error) {
	req, err := getRequest(ctx, tx, requestID, true)
	if err != nil {
		return Request{}, err
	}
	if err := loadHistories(ctx, tx, []*Request{&req}); err != nil {
		return Request{}, err
	}
	return req, nil
}

// SetDueAt stores a request's next response due time (nil: none) inside tx.
// It does not touch updated_at: the due time follows from the history, it is
// not a change of it. It returns whether the value changed.
func SetDueAt(ctx context.Context, tx pgx.Tx, requestID string, due *time.Time) (bool, error) {
	if !validUUID(requestID) {
		return false, ErrNotFound
	}
	if due != nil {
		t := ts(*due)
		due = &t
	}
	tag, err := tx.Exec(ctx, `UPDATE requests SET due_at = $2 WHERE id = $1 AND due_at IS DISTINCT FROM $2`, requestID, due)
	if err != nil {
		return false, fmt.Errorf("storing due time: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RequestHistoriesActive returns, with their threads (no attachments), the
// requests that may hold a deadline started in [from, to): filed before to
// and changed at or after from (any event that starts a deadline also moves
// updated_at). Oldest first. For the yearly quality report.
func (s *Store) RequestHistoriesActive(ctx context.Context, from, to time.Time) ([]Request, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+requestColumns+` FROM requests r
		WHERE r.created_at < $2 AND r.updated_at >= $1 ORDER BY r.created_at, r.id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	var out []Request
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
	const batch = 500
	for i := 0; i < len(out); i += batch {
		ptrs := make([]*Request, 0, batch)
		for j := i; j < len(out) && j < i+batch; j++ {
			ptrs = append(ptrs, &out[j])
		}
		if err := loadHistories(ctx, s.pool, ptrs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadHistories fills the Messages of requests (in thread order, without
// attachments).
func loadHistories(ctx context.Context, q querier, reqs []*Request) error {
	ids := make([]string, len(reqs))
	index := make(map[string]*Request, len(reqs))
	for i, r := range reqs {
		ids[i] = r.ID
		index[r.ID] = r
		r.Messages = []Message{}
	}
	rows, err := q.Query(ctx, `SELECT `+messageColumns+` FROM messages m
		WHERE m.request_id = ANY($1::uuid[]) ORDER BY m.request_id, m.created_at, m.id`, ids)
	if err != nil {
		return fmt.Errorf("reading history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return fmt.Errorf("reading history: %w", err)
		}
		if r := index[m.RequestID]; r != nil {
			r.Messages = append(r.Messages, m)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading history: %w", err)
	}
	return nil
}
