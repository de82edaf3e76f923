package identities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/config"
	"passerelle/kratos"
)

// The SQL of table scheduled_identity_actions (migration 00060): every
// statement of the package is here.

// actionStore reads and writes the scheduled actions outside a claim.
type actionStore struct{ pool *pgxpool.Pool }

func (s *Service) actions() actionStore { return actionStore{pool: s.pool} }

const actionColumns = `id, kind, email, payload, run_at, done_at, coalesce(outcome, ''), attempts, coalesce(error, '')`

// inviteBefore says whether an invitation of email is pending to run before runAt.
func (st actionStore) inviteBefore(ctx context.Context, email string, runAt time.Time) (bool, error) {
	var pending bool
	if err := st.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scheduled_identity_actions
		WHERE kind = 'invite' AND email = $1 AND done_at IS NULL AND run_at < $2)`, email, runAt).Scan(&pending); err != nil {
		return false, fmt.Errorf("reading the scheduled invitations: %w", err)
	}
	return pending, nil
}

// insert stores a pending action; ErrAlreadyScheduled when one of that kind
// is pending for email (the table's partial unique index).
func (st actionStore) insert(ctx context.Context, kind, email string, payload []byte, runAt time.Time) (int64, error) {
	var id int64
	err := st.pool.QueryRow(ctx, `INSERT INTO scheduled_identity_actions (kind, email, payload, run_at)
		VALUES ($1, $2, $3, $4) RETURNING id`, kind, email, payload, runAt).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return 0, ErrAlreadyScheduled
	}
	if err != nil {
		return 0, fmt.Errorf("storing the scheduled %s: %w", kind, err)
	}
	return id, nil
}

// recent lists the pending actions and those done or failed in the last 30
// days, by run_at.
func (st actionStore) recent(ctx context.Context) ([]Action, error) {
	rows, err := st.pool.Query(ctx, `SELECT `+actionColumns+`
		FROM scheduled_identity_actions WHERE done_at IS NULL OR done_at > now() - interval '30 days' ORDER BY run_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing the scheduled identity actions: %w", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// cancel marks a pending action done with the outcome "annulée";
// pgx.ErrNoRows when no such action is pending.
func (st actionStore) cancel(ctx context.Context, id int64, now time.Time) (Action, error) {
	return scanAction(st.pool.QueryRow(ctx, `UPDATE scheduled_identity_actions SET done_at = $2, outcome = 'annulée'
		WHERE id = $1 AND done_at IS NULL RETURNING `+actionColumns, id, now))
}

// claimDue locks, in tx, the next due action not in tried (SKIP LOCKED:
// another claimant's is passed over); pgx.ErrNoRows when none is left.
func claimDue(ctx context.Context, tx pgx.Tx, now time.Time, tried []int64) (Action, error) {
	return scanAction(tx.QueryRow(ctx, `SELECT `+actionColumns+`
		FROM scheduled_identity_actions WHERE done_at IS NULL AND run_at <= $1 AND NOT (id = ANY($2))
		ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now, tried))
}

// recordFailure counts a failed attempt of a claimed action and keeps its error.
func recordFailure(ctx context.Context, tx pgx.Tx, id int64, msg string) error {
	if _, err := tx.Exec(ctx, `UPDATE scheduled_identity_actions SET attempts = attempts + 1, error = $2 WHERE id = $1`, id, msg); err != nil {
		return fmt.Errorf("recording the failure of scheduled identity action %d: %w", id, err)
	}
	return nil
}

// markDone records a claimed action's outcome.
func markDone(ctx context.Context, tx pgx.Tx, id int64, now time.Time, outcome string) error {
	if _, err := tx.Exec(ctx, `UPDATE scheduled_identity_actions SET attempts = attempts + 1, done_at = $2, outcome = $3, error = NULL
		WHERE id = $1`, id, now, outcome); err != nil {
		return fmt.Errorf("marking scheduled identity action %d done: %w", id, err)
	}
	return nil
}

func scanAction(row pgx.Row) (Action, error) {
	var a Action
	var raw []byte
	if err := row.Scan(&a.ID, &a.Kind, &a.Email, &raw, &a.RunAt, &a.DoneAt, &a.Outcome, &a.Attempts, &a.Error); err != nil {
		return a, fmt.Errorf("reading a scheduled identity action: %w", err)
	}
	var p payload
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return a, fmt.Errorf("scheduled identity action %d: payload: %w", a.ID, err)
		}
	}
	a.Record = kratos.ClientRecord{Email: a.Email, First: p.First, Last: p.Last, Role: config.Role(p.Role), Lots: p.Lots, Mandates: p.Mandates}
	return a, nil
}
