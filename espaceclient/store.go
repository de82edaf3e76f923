package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/internal/textnorm"
)

// Store keeps the customer space's requests, messages and attachments in
// PostgreSQL (tables of database/migrations/00001_init.sql).
//
// Two families of methods live here:
//   - the client side, used by Service: every call is already scoped by the
//     Service to the caller's identity;
//   - the bridge side (store_sync.go and the unscoped lookups GetRequest,
//     GetRequestThread, GetMessage, RequestByIssue), used by the sync engine.
//
// Every lookup answers ErrNotFound when nothing matches, a malformed id
// included.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// DefaultDBTimeout bounds the wait for a connection and one operation of the
// store (a transaction's begin and commit, a lookup): with PostgreSQL down
// or restarting a call fails within seconds (the API answers 503) instead of
// queueing behind a pool that cannot connect.
const DefaultDBTimeout = 10 * time.Second

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, timeout: DefaultDBTimeout} }

// bound gives one store operation its deadline (an earlier one of ctx stays).
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// inTx runs fn in one transaction, committed when fn returns nil (rolled
// back otherwise, a panic included). Acquiring the connection with BEGIN, and
// COMMIT, are each bounded by the store's timeout; the statements fn runs use
// fn's own context.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	bctx, cancel := s.bound(ctx)
	tx, err := s.pool.Begin(bctx)
	cancel()
	if err != nil {
		return err
	}
	rollback := func() {
		rctx, cancel := s.bound(context.WithoutCancel(ctx))
		_ = tx.Rollback(rctx)
		cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			rollback()
			panic(p)
		}
		if err != nil {
			rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	cctx, cancel := s.bound(ctx)
	defer cancel()
	return tx.Commit(cctx)
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// validUUID tells whether s is a UUID in its canonical text form; anything
// else is answered ErrNotFound without asking PostgreSQL (which would reject
// the cast with an error).
func validUUID(s string) bool { return textnorm.IsUUID(s) }

// notFound maps pgx.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// nextReference takes the next number of the year in the same transaction as
// the request it names. The counter row stays locked until the transaction
// ends, so concurrent creations are serialized on it and two requests never
// share a number; a rolled-back transaction gives its number back, which is
// harmless since the reference was never shown.
func nextReference(ctx context.Context, tx pgx.Tx, prefix string, year int) (string, error) {
	var n int64
	err := tx.QueryRow(ctx, `
		INSERT INTO reference_counters (year, last_value) VALUES ($1, 1)
		ON CONFLICT (year) DO UPDATE SET last_value = reference_counters.last_value + 1
		RETURNING last_value`, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("taking a reference number: %w", err)
	}
	return FormatReference(prefix, year, n), nil
}

// FormatReference writes a dossier reference: D-2026-000123 (prefix D).
func FormatReference(prefix string, year int, n int64) string {
	return fmt.Sprintf("%s-%04d-%06d", prefix, year, n)
}

// ts returns t in UTC truncated to PostgreSQL's microsecond precision, so
// what is returned equals what a later read gives back.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
