package database

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory-lock namespaces: the first key of every PostgreSQL advisory lock
// Passerelle takes (the second is hashtext of the locked thing's id). They
// are listed here, in one place, so two features never share a namespace by
// accident; strandedRequests (bridge/store.go) also looks LockRequest up in
// pg_locks.
const (
	// LockRequest is a request's session lock: one worker mirrors a request
	// at a time (bridge/store.go, withRequestLock).
	LockRequest = 7411
	// LockDeadlineAlert is a deadline alert's session lock: one worker
	// carries an alert out at a time (deadlines, withAlertLock).
	LockDeadlineAlert = 7412
	// LockDueField is a request's transaction lock ordering the writers of
	// its "Échéance réponse" custom field (deadlines, syncDueField).
	LockDueField = 7413
	// LockPoll is the poll's session lock: one poll of Redmine at a time
	// across replicas (bridge, PollArgs).
	LockPoll = 7414
	// LockWatch is the deadline watcher's session lock: one run at a time
	// across replicas (deadlines, WatchArgs).
	LockWatch = 7415
	// LockIdentityActions is the scheduled identity actions' session lock:
	// one run of the due invitations and deactivations at a time across
	// replicas and `passerelle identities run-scheduled` (identities, RunDue).
	LockIdentityActions = 7416
	// LockNotify is the client-notification sweep's session lock: one sweep
	// at a time across replicas (notify/clientnotify, SweepArgs).
	LockNotify = 7420
)

// WithSessionLock runs fn while holding the session advisory lock (class,
// hashtext(key)) on a connection of its own, so two workers (two replicas,
// or a job rescued while the first attempt still runs) never do the same
// work at once. ok is false, and fn not run, when another session holds it.
// The lock is released on a fresh context (the caller's may be cancelled);
// if that fails, the connection is closed, which releases it.
func WithSessionLock(ctx context.Context, pool *pgxpool.Pool, class int, key string, fn func() error) (ok bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquiring a connection for advisory lock %d: %w", class, err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($2, hashtext($1))`, key, class).Scan(&got); err != nil {
		return false, fmt.Errorf("taking advisory lock %d: %w", class, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($2, hashtext($1))`, key, class); uerr != nil {
			conn.Conn().Close(uctx) // closing the session releases the lock
		}
	}()
	return true, fn()
}
