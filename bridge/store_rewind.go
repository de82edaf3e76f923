package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The rewind guard (migration 00080): whether a write to Redmine must be
// searched for before it is made. The bridge's other SQL is in store.go.
//
// Why a search can be needed at all: Redmine has no idempotency key, so an
// issue (or a client's note) created by an attempt that then died, or whose answer
// was lost, is found again only by a search. Searching before every write
// costs a Redmine call per request (a filtered list, about as slow as the
// POST itself on Redmine: BENCHMARKS.md section 1). The search is needed only
// when an earlier attempt may have made the write (the same holds for a
// note: the journals are read for its marker only then):
//
//  1. the row's attempt count is above zero: each attempt is counted in a
//     transaction committed before its Redmine call (beginCreate,
//     beginNote), so a
//     crash, a timeout or a lost answer always leaves a trace; or
//  2. the database has gone back in time since the row was filed, and the
//     count with it. The fingerprint below is read live in the attempt's own
//     transaction and compared with the one stored in rewind_guard; when they
//     differ, every request and message filed before now (filed_seq below a
//     fresh number of the sequence) is searched. A rewind brings rewind_guard back too, with
//     the fingerprint of the database as it was, so it is noticed by the
//     first attempt after it, before any Redmine call.
//
// The fingerprint, and what changes it (checked on PostgreSQL 15.18, every
// function is executable by a non-superuser role: proacl NULL):
//   - pg_control_system().system_identifier: a new cluster (initdb, then a
//     dump restored into it);
//   - pg_control_checkpoint().timeline_id: a point-in-time recovery or a
//     promoted standby (a new timeline, once its first checkpoint is written;
//     the postmaster's start time below changes at once anyway);
//   - pg_postmaster_start_time(): any restart, so a disk or VM snapshot
//     rolled back in place (same cluster, same timeline, plain crash
//     recovery) and a failover to another server;
//   - the database's oid: a dump restored into a new database;
//   - pg_relation_filenode('requests'): the requests table dropped and
//     created again, or truncated (pg_restore --clean, --data-only after a
//     TRUNCATE).
//
// A plain restart of PostgreSQL also changes it: the requests not yet in
// Redmine at that moment are searched first, once (a few calls, harmless).
// What it cannot see is rows rewritten in place without a restart (DELETE,
// then INSERT of old rows): `passerelle resync --after-restore`
// moves search_below like a detected rewind (docs/RELIABILITY.md, restore).
const liveFingerprintSQL = `
	(SELECT system_identifier::text FROM pg_control_system()) || '/' ||
	(SELECT timeline_id::text FROM pg_control_checkpoint()) || '/' ||
	pg_postmaster_start_time()::text || '/' ||
	(SELECT oid::text FROM pg_database WHERE datname = current_database()) || '/' ||
	pg_relation_filenode('requests')::text`

// attempt says what beginAttempt found.
type attempt struct {
	Search  bool   // an earlier attempt may have made the write: search first
	Earlier int    // attempts counted before this one
	Rewound bool   // this call noticed a new database incarnation
	Was     string // the fingerprint stored before it (when Rewound)
	// NoFingerprint: the server refused a fingerprint function; every
	// write is searched for first.
	NoFingerprint bool
}

// beginCreate counts one attempt to create a request's issue, committed
// before the caller's POST, and tells whether Redmine must be searched for an
// earlier attempt's issue first.
func (s syncStore) beginCreate(ctx context.Context, requestID string) (attempt, error) {
	return s.beginAttempt(ctx, `
		UPDATE requests SET create_attempts = create_attempts + 1 WHERE id = $1
		RETURNING create_attempts - 1, filed_seq`, requestID)
}

// beginNote counts one attempt to write a client action's note, committed
// before the caller's PUT, and tells whether the journals must be
// searched for an earlier attempt's note first.
func (s syncStore) beginNote(ctx context.Context, messageID string) (attempt, error) {
	return s.beginAttempt(ctx, `
		UPDATE messages SET mirror_attempts = mirror_attempts + 1 WHERE id = $1
		RETURNING mirror_attempts - 1, filed_seq`, messageID)
}

// beginAttempt checks the guard, then runs countSQL (one more attempt on the
// row id, returning the count before it and the row's filed_seq).
func (s syncStore) beginAttempt(ctx context.Context, countSQL, id string) (attempt, error) {
	var a attempt
	live, err := s.liveFingerprint(ctx)
	if err != nil {
		return a, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var stored string
		var below int64
		if err := tx.QueryRow(ctx, `SELECT fingerprint, search_below FROM rewind_guard`).Scan(&stored, &below); err != nil {
			return fmt.Errorf("reading the rewind guard: %w", err)
		}
		if live == "" {
			// No fingerprint: nothing tells a rewind, so every write is
			// searched for first (as before the guard).
			a.Search, a.NoFingerprint = true, true
		} else if stored != live {
			// Only one transaction moves it per incarnation (the WHERE);
			// another that lost the race reads the number it set.
			err := tx.QueryRow(ctx, `
				UPDATE rewind_guard SET fingerprint = $1, search_below = nextval('filed_seq'), changed_at = now()
				WHERE fingerprint = $2 RETURNING search_below`, live, stored).Scan(&below)
			if errors.Is(err, pgx.ErrNoRows) {
				err = tx.QueryRow(ctx, `SELECT search_below FROM rewind_guard`).Scan(&below)
			} else if err == nil {
				a.Rewound, a.Was = true, stored
			}
			if err != nil {
				return fmt.Errorf("moving the rewind guard: %w", err)
			}
		}
		var filed int64
		if err := tx.QueryRow(ctx, countSQL, id).Scan(&a.Earlier, &filed); err != nil {
			return fmt.Errorf("counting the attempt: %w", err)
		}
		a.Search = a.Search || a.Earlier > 0 || filed < below
		return nil
	})
	return a, err
}

// liveFingerprint reads the database's fingerprint, or "" when the server
// refuses one of its functions (a managed PostgreSQL may restrict them).
func (s syncStore) liveFingerprint(ctx context.Context) (string, error) {
	var live string
	err := s.pool.QueryRow(ctx, `SELECT `+liveFingerprintSQL).Scan(&live)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == codeInsufficientPrivilege || pe.Code == codeUndefinedFunction) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the database fingerprint: %w", err)
	}
	return live, nil
}

// SQLSTATEs of a refused fingerprint function.
const (
	codeInsufficientPrivilege = "42501"
	codeUndefinedFunction     = "42883"
)

// MarkAllForSearch makes every request and message filed so far searched
// for in Redmine before it is written, as a detected rewind does. It is `passerelle resync
// --after-restore`, for a restore the fingerprint cannot see.
func MarkAllForSearch(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `UPDATE rewind_guard SET search_below = nextval('filed_seq'), changed_at = now()`); err != nil {
		return fmt.Errorf("moving the rewind guard: %w", err)
	}
	return nil
}
