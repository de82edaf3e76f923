package espaceclient

import (
	"context"
	"fmt"

	"passerelle/redmine"
)

// The messages table is the bridge's outbox: a client's follow-up or close is
// "pending" until mirrored_at is set. These reads let the bridge drain one
// request's pending actions in the order the client made them.

// pendingActionWhere selects a request's client actions not in Redmine yet:
// follow-ups (the first message goes with the issue itself) and closings.
const pendingActionWhere = `m.request_id = $1 AND m.mirrored_at IS NULL
	AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed')`

// NextClientAction returns the oldest client action of a request that is not
// in Redmine yet (created_at, then id), with its attachments' bytes; ok is
// false when there is none. The request's first message counts too while the
// request has no issue: callers create the issue first.
func (s *Store) NextClientAction(ctx context.Context, requestID string) (Message, bool, error) {
	if !validUUID(requestID) {
		return Message{}, false, ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages m WHERE `+pendingActionWhere+`
		ORDER BY m.created_at, m.id LIMIT 1`, requestID)
	if err != nil {
		return Message{}, false, fmt.Errorf("reading the next client action: %w", err)
	}
	var msgs []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return Message{}, false, fmt.Errorf("reading the next client action: %w", err)
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Message{}, false, fmt.Errorf("reading the next client action: %w", err)
	}
	if len(msgs) == 0 {
		return Message{}, false, nil
	}
	m := msgs[0]
	atts, err := attachmentsWhere(ctx, s.pool, `a.message_id = $1`, m.ID, true)
	if err != nil {
		return Message{}, false, err
	}
	m.Attachments = atts
	return m, true, nil
}

// LastClientStatusJournal returns the Redmine journal of the client's latest
// action that set the status (a close, or a follow-up that reopened
// the request), 0 when none is in Redmine. A staff status journal older than
// it is superseded: the client acted after it.
func (s *Store) LastClientStatusJournal(ctx context.Context, requestID string) (redmine.JournalID, error) {
	if !validUUID(requestID) {
		return 0, ErrNotFound
	}
	var id redmine.JournalID
	err := s.pool.QueryRow(ctx, `
		SELECT COALESCE(max(redmine_journal_id), 0) FROM messages
		WHERE request_id = $1 AND redmine_journal_id IS NOT NULL
		  AND (kind = 'closed' OR (author_kind = 'client' AND reopens))`, requestID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("reading the client's last status journal: %w", err)
	}
	return id, nil
}
