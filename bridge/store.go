package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/config"
	"passerelle/database"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// Store is what the bridge needs from the customer space's store. It is
// declared here, by its consumer; *espaceclient.Store implements it.
type Store interface {
	GetRequest(ctx context.Context, id string) (espaceclient.Request, error)
	GetRequestThread(ctx context.Context, id string, withData bool) (espaceclient.Request, error)
	GetMessage(ctx context.Context, id string, withData bool) (espaceclient.Message, error)
	RequestByIssue(ctx context.Context, issueID redmine.IssueID) (espaceclient.Request, error)
	RecordMirrored(ctx context.Context, requestID string, issueID redmine.IssueID, redmineStatus string, cs config.ClientStatus, needsAttention, ackBody string, at time.Time) error
	MarkMessageMirrored(ctx context.Context, messageID string, journalID *redmine.JournalID, at time.Time) error
	SetMirrorError(ctx context.Context, requestID, msg string) error
	AddStaffMessage(ctx context.Context, requestID string, journalID redmine.JournalID, authorName, body string, at time.Time, atts []espaceclient.Attachment) (bool, error)
	ApplyRedmineStatus(ctx context.Context, requestID string, journalID *redmine.JournalID, redmineStatus string, cs config.ClientStatus, label string, at time.Time) (bool, error)
	AddStaffAttachment(ctx context.Context, requestID string, redmineAttachmentID redmine.AttachmentID, filename, contentType string, data []byte, at time.Time) (bool, error)
	AttachmentKnown(ctx context.Context, redmineAttachmentID redmine.AttachmentID) (bool, error)
	PendingClientActions(ctx context.Context, requestID string, since time.Time) (int, error)
	NextClientAction(ctx context.Context, requestID string) (espaceclient.Message, bool, error)
	LastClientStatusJournal(ctx context.Context, requestID string) (redmine.JournalID, error)
	PurgeInboundDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// syncStore holds the bridge's own tables: poll cursors and per-issue sync
// state. The bridge's SQL is in this file, but for the rewind guard's
// (store_rewind.go).
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

// anyMirrored tells whether any request has its Redmine issue yet.
func (s syncStore) anyMirrored(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM requests WHERE redmine_issue_id IS NOT NULL)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("looking for mirrored requests: %w", err)
	}
	return ok, nil
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
func (s syncStore) issueUpdatedOn(ctx context.Context, issueIDs []redmine.IssueID) (map[redmine.IssueID]time.Time, error) {
	out := make(map[redmine.IssueID]time.Time, len(issueIDs))
	if len(issueIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT issue_id, updated_on FROM issue_sync_state WHERE issue_id = ANY($1) AND updated_on IS NOT NULL`, issueIDs)
	if err != nil {
		return nil, fmt.Errorf("reading issue sync state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id redmine.IssueID
		var t time.Time
		if err := rows.Scan(&id, &t); err != nil {
			return nil, err
		}
		out[id] = t
	}
	return out, rows.Err()
}

// setIssueUpdatedOn records that an issue was applied as of t (never
// backward), which also ends any failure recorded for it.
func (s syncStore) setIssueUpdatedOn(ctx context.Context, issueID redmine.IssueID, t time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO issue_sync_state (issue_id, updated_on) VALUES ($1, $2)
		ON CONFLICT (issue_id) DO UPDATE SET updated_on = GREATEST(issue_sync_state.updated_on, EXCLUDED.updated_on),
			synced_at = now(), failures = 0, last_error = '', failing_since = NULL`, issueID, t)
	if err != nil {
		return fmt.Errorf("storing issue %d sync state: %w", issueID, err)
	}
	return nil
}

// recordIssueFailure counts a failed apply of an issue.
func (s syncStore) recordIssueFailure(ctx context.Context, issueID redmine.IssueID, msg string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO issue_sync_state (issue_id, updated_on, failures, last_error, failing_since) VALUES ($1, NULL, 1, $2, now())
		ON CONFLICT (issue_id) DO UPDATE SET failures = issue_sync_state.failures + 1, last_error = EXCLUDED.last_error,
			failing_since = COALESCE(issue_sync_state.failing_since, now())`, issueID, msg)
	if err != nil {
		return fmt.Errorf("recording the failure of issue %d: %w", issueID, err)
	}
	return nil
}

// clearIssueFailure forgets an issue's failure once it applied.
func (s syncStore) clearIssueFailure(ctx context.Context, issueID redmine.IssueID) error {
	_, err := s.pool.Exec(ctx, `UPDATE issue_sync_state SET failures = 0, last_error = '', failing_since = NULL WHERE issue_id = $1 AND failures > 0`, issueID)
	if err != nil {
		return fmt.Errorf("clearing the failure of issue %d: %w", issueID, err)
	}
	return nil
}

// journalsApplied tells which of the journals were applied before.
func (s syncStore) journalsApplied(ctx context.Context, journalIDs []redmine.JournalID) (map[redmine.JournalID]bool, error) {
	out := make(map[redmine.JournalID]bool, len(journalIDs))
	if len(journalIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT journal_id FROM applied_journals WHERE journal_id = ANY($1)`, journalIDs)
	if err != nil {
		return nil, fmt.Errorf("reading applied journals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id redmine.JournalID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// markJournalsApplied remembers journals of an issue as applied.
func (s syncStore) markJournalsApplied(ctx context.Context, issueID redmine.IssueID, journalIDs []redmine.JournalID) error {
	if len(journalIDs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO applied_journals (journal_id, issue_id) SELECT unnest($2::int[]), $1
		ON CONFLICT (journal_id) DO NOTHING`, issueID, journalIDs)
	if err != nil {
		return fmt.Errorf("remembering applied journals of issue %d: %w", issueID, err)
	}
	return nil
}

// strandedRequests lists (at most limit) requests whose client actions wait
// with no one to apply them: an action older than grace is pending, the
// request is not stopped, no mirroring job of it is queued (available,
// scheduled, retryable or pending), and no session holds its lock, so no live
// drain is at work. That is the state a SIGKILL leaves: the dead process's
// job stays "running" until River's rescuer (JobTimeout + 10 s, checked every
// 30 s), while its session lock went with its connection.
//
// Reads the partial index messages_pending_actions_idx (pending rows only)
// and, per candidate, river_job by state and kind.
func (s syncStore) strandedRequests(ctx context.Context, grace time.Duration, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT p.request_id::text FROM (
			SELECT m.request_id, min(m.created_at) AS oldest
			FROM messages m
			WHERE m.mirrored_at IS NULL AND (m.author_kind = 'client' OR m.kind = 'closed')
			  AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed')
			GROUP BY m.request_id) p
		JOIN requests r ON r.id = p.request_id
		WHERE p.oldest < now() - make_interval(secs => $1) AND r.mirror_error = ''
		  AND NOT EXISTS (SELECT 1 FROM river_job j
			WHERE j.state IN ('available', 'scheduled', 'retryable', 'pending')
			  AND j.kind IN ('mirror_request', 'mirror_message')
			  AND j.args->>'request_id' = p.request_id::text)
		  AND NOT EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.locktype = 'advisory' AND l.granted
			  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			  AND l.classid = $2 AND l.objid = hashtext(p.request_id::text)::oid AND l.objsubid = 2)
		ORDER BY p.oldest LIMIT $3`, grace.Seconds(), database.LockRequest, limit)
	if err != nil {
		return nil, fmt.Errorf("looking for stranded requests: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("looking for stranded requests: %w", err)
	}
	return ids, nil
}

// withRequestLock runs fn while holding a session advisory lock on a request,
// so two workers (two replicas, or a job rescued while the first attempt still
// runs) never mirror the same request at once. ok is false when another
// holder has it.
func (s syncStore) withRequestLock(ctx context.Context, requestID string, fn func() error) (ok bool, err error) {
	return database.WithSessionLock(ctx, s.pool, database.LockRequest, requestID, fn)
}

// MirrorErrors lists, one line each, for `passerelle check --live`: the
// requests whose mirroring stopped (a permanent error or the retry budget
// spent: the request itself, or a follow-up or close of it), with how many
// client actions wait behind the failure; and the Redmine issues the poller
// keeps failing to apply.
func MirrorErrors(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT r.reference, r.mirror_error, r.redmine_issue_id,
			(SELECT count(*) FROM messages m WHERE m.request_id = r.id AND m.mirrored_at IS NULL
			   AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed'))
		FROM requests r WHERE r.mirror_error <> '' ORDER BY r.created_at`)
	if err != nil {
		return nil, fmt.Errorf("listing requests that could not be mirrored: %w", err)
	}
	var out []string
	for rows.Next() {
		var ref, msg string
		var issue *int
		var waiting int
		if err := rows.Scan(&ref, &msg, &issue, &waiting); err != nil {
			rows.Close()
			return nil, err
		}
		what := "not mirrored"
		if issue != nil {
			what = fmt.Sprintf("(issue #%d) stopped", *issue)
		}
		out = append(out, fmt.Sprintf("request %s %s, %d client action(s) waiting: %s", ref, what, waiting, msg))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = pool.Query(ctx, `
		SELECT s.issue_id, s.failures, s.failing_since, s.last_error FROM issue_sync_state s
		WHERE s.failures > 0 ORDER BY s.failing_since`)
	if err != nil {
		return nil, fmt.Errorf("listing issues that fail to apply: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, failures int
		var since *time.Time
		var msg string
		if err := rows.Scan(&id, &failures, &since, &msg); err != nil {
			return nil, err
		}
		when := ""
		if since != nil {
			when = " since " + since.UTC().Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("issue #%d not applied to the customer space (%d failures%s): %s", id, failures, when, msg))
	}
	return out, rows.Err()
}

type unsyncedRequest struct {
	id, reference string
	mirrorError   string
	pending       int
	hasIssue      bool
}

// unsynced lists the requests a resync must drain again: without an issue,
// stopped by an error, or with client actions not in Redmine; references,
// when given, restrict the list.
func (s syncStore) unsynced(ctx context.Context, references []string) ([]unsyncedRequest, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT r.id::text, r.reference, r.mirror_error, r.redmine_issue_id IS NOT NULL,
			(SELECT count(*) FROM messages m WHERE m.request_id = r.id AND m.mirrored_at IS NULL
			   AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed')) AS pending
		FROM requests r
		WHERE ($1 OR r.reference = ANY($2::text[]))
		  AND (r.redmine_issue_id IS NULL OR r.mirror_error <> ''
		       OR EXISTS (SELECT 1 FROM messages m WHERE m.request_id = r.id AND m.mirrored_at IS NULL
		                  AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed')))
		ORDER BY r.created_at`, len(references) == 0, references)
	if err != nil {
		return nil, fmt.Errorf("listing requests to resync: %w", err)
	}
	defer rows.Close()
	var out []unsyncedRequest
	for rows.Next() {
		var r unsyncedRequest
		if err := rows.Scan(&r.id, &r.reference, &r.mirrorError, &r.hasIssue, &r.pending); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
