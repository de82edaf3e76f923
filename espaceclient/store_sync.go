package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
	"passerelle/redmine"
)

// The bridge-facing writes: what the sync engine records once Redmine has
// accepted something, and what it brings back from Redmine. Each one is a
// single transaction that locks the request row first (so two workers on the
// same request are serialized) and is idempotent: the bridge may retry any of
// them after a crash and nothing is stored twice.

// AgencyName signs the acknowledgment and the other messages the agency's
// system writes in a thread.
const AgencyName = "Agence"

// ErrIssueMismatch is returned by RecordMirrored when the request is already
// mirrored as another Redmine issue.
var ErrIssueMismatch = errors.New("espaceclient: request already mirrored as another issue")

// errNothingToDo rolls back a transaction that found its work already done.
var errNothingToDo = errors.New("nothing to do")

// RecordMirrored records, in one transaction, that the request became Redmine
// issue issueID:
//   - redmine_issue_id is set (a no-op when it already is that id; an error
//     wrapping ErrIssueMismatch when it is another one);
//   - redmine_status is set to redmineStatus the first time (a retry keeps the
//     newer status a poll may have stored since);
//   - the client status becomes clientStatus only while the request is still
//     "new" (a client who already closed it stays closed); closed_at is set
//     when that status is closed;
//   - needs_attention is set (why the request went without its mandate parent,
//     "" when all went well) and mirror_error cleared;
//   - the first client message is marked mirrored at at;
//   - the acknowledgment (kind ack, author system "Agence", body ackBody, at at)
//     is added once: a unique index keeps one ack per request (ON CONFLICT DO
//     NOTHING), so a retry adds none. An empty ackBody adds none.
//
// ErrNotFound when there is no such request.
func (s *Store) RecordMirrored(ctx context.Context, requestID string, issueID redmine.IssueID, redmineStatus string,
	clientStatus config.ClientStatus, needsAttention, ackBody string, at time.Time) error {
	at = ts(at)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := getRequest(ctx, tx, requestID, true)
		if err != nil {
			return err
		}
		first := req.RedmineIssueID == nil
		if !first && *req.RedmineIssueID != issueID {
			return fmt.Errorf("%w: %s is issue #%d, not #%d", ErrIssueMismatch, req.Reference, *req.RedmineIssueID, issueID)
		}
		status, closedAt := req.Status, req.ClosedAt
		if req.Status == config.StatusNew && clientStatus != "" && clientStatus != config.StatusNew {
			status = clientStatus
			if status == config.StatusClosed {
				closedAt = &at
			}
		}
		rs := req.RedmineStatus
		if first || rs == "" {
			rs = redmineStatus
		}
		_, err = tx.Exec(ctx, `
			UPDATE requests SET redmine_issue_id = $2, redmine_status = $3, status = $4, closed_at = $5,
				needs_attention = $6, mirror_error = '', updated_at = GREATEST(updated_at, $7)
			WHERE id = $1`, req.ID, issueID, rs, string(status), closedAt, needsAttention, at)
		if err != nil {
			return fmt.Errorf("recording mirrored request: %w", err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE messages SET mirrored_at = $2
			WHERE id = (SELECT id FROM messages WHERE request_id = $1 AND author_kind = 'client' AND kind = 'message'
			            ORDER BY created_at, id LIMIT 1)
			  AND mirrored_at IS NULL`, req.ID, at)
		if err != nil {
			return fmt.Errorf("marking first message mirrored: %w", err)
		}
		if ackBody == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO messages (request_id, author_kind, kind, author_name, body, source, created_at)
			VALUES ($1, 'system', 'ack', $2, $3, 'system', $4)
			ON CONFLICT DO NOTHING`, req.ID, AgencyName, ackBody, at)
		if err != nil {
			return fmt.Errorf("storing acknowledgment: %w", err)
		}
		return nil
	})
}

// MarkMessageMirrored records that a client message reached Redmine: its
// mirrored_at (kept when already set) and, when journalID is not nil, the
// Redmine journal it became (so the poller recognizes the bridge's own note
// and never brings it back). ErrNotFound when there is no such message.
func (s *Store) MarkMessageMirrored(ctx context.Context, messageID string, journalID *redmine.JournalID, at time.Time) error {
	if !validUUID(messageID) {
		return ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE messages SET mirrored_at = COALESCE(mirrored_at, $3), redmine_journal_id = COALESCE($2, redmine_journal_id)
		WHERE id = $1`, messageID, journalID, ts(at))
	if err != nil {
		return fmt.Errorf("marking message mirrored: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SetMirrorError records why mirroring the request failed for good (shown to
// staff by `passerelle check`, never to clients); "" clears it. ErrNotFound
// when there is no such request.
func (s *Store) SetMirrorError(ctx context.Context, requestID, msg string) error {
	if !validUUID(requestID) {
		return ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE requests SET mirror_error = $2, mirror_error_at = CASE WHEN $2 = '' THEN NULL ELSE now() END WHERE id = $1`, requestID, msg)
	if err != nil {
		return fmt.Errorf("recording mirror error: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AddStaffMessage stores a staff member's public note (Redmine journal
// journalID) as a staff message signed authorName, dated at, with its
// attachments (each with RedmineAttachmentID, Filename, ContentType and Data
// set; the name is sanitized, the size and SHA-256 computed). It returns
// false and stores nothing when that journal's note is already stored (the
// unique (redmine_journal_id, kind) index, ON CONFLICT DO NOTHING), so a poll
// overlap never shows a note twice. An attachment already stored under its
// Redmine id is skipped. The note is dated no earlier than just after the
// request's messages in Redmine before that journal (see redmineEventAt). A
// NUL byte or invalid UTF-8 in its body or author name becomes U+FFFD (see
// cleanText); an attachment type holding one is stored as
// application/octet-stream. ErrNotFound when there is no such request.
func (s *Store) AddStaffMessage(ctx context.Context, requestID string, journalID redmine.JournalID, authorName, body string,
	at time.Time, atts []Attachment) (bool, error) {
	at = ts(at)
	authorName, body = cleanText(authorName), cleanText(body)
	added := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := getRequest(ctx, tx, requestID, true)
		if err != nil {
			return err
		}
		jid := journalID
		at, err := redmineEventAt(ctx, tx, req.ID, &jid, at, time.Microsecond)
		if err != nil {
			return err
		}
		var msgID string
		err = tx.QueryRow(ctx, `
			INSERT INTO messages (request_id, author_kind, kind, author_name, body, source, redmine_journal_id, mirrored_at, created_at)
			VALUES ($1, 'staff', 'message', $2, $3, 'redmine', $4, $5, $5)
			ON CONFLICT DO NOTHING
			RETURNING id::text`, req.ID, authorName, body, journalID, at).Scan(&msgID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storing staff message: %w", err)
		}
		for i, a := range atts {
			a.MessageID, a.RequestID = msgID, req.ID
			a.ContentType = cleanContentType(a.ContentType)
			a.Filename = SanitizeFilename(a.Filename, a.ContentType)
			if _, err := insertAttachmentOnce(ctx, tx, a, at.Add(time.Duration(i)*time.Microsecond)); err != nil {
				return err
			}
		}
		if err := touchRequest(ctx, tx, &req, at); err != nil {
			return err
		}
		added = true
		return nil
	})
	return added, err
}

// ApplyRedmineStatus brings a Redmine status change (journal journalID, or nil
// when it is not known from a journal) into the request:
//   - redmine_status becomes redmineStatus;
//   - when the client status cs differs from the request's, the request takes
//     it (closed_at set at at when closed, cleared otherwise) and a system
//     message kind "status" with body label (such as "Statut : en cours"),
//     client_status cs, dated at and carrying journalID is added. With a
//     journal id that status event is stored once (unique (redmine_journal_id,
//     kind)): when it is already there the change was applied before and the
//     client status is left as it is now.
//
// The event (and closed_at) is dated no earlier than just after the request's
// messages in Redmine before that journal, and 1 µs more, so it also follows
// the note of its own journal (see redmineEventAt); without a journal, no
// earlier than just after the request's latest message. updated_at never
// moves back.
//
// It returns whether anything changed. ErrNotFound when there is no such request.
func (s *Store) ApplyRedmineStatus(ctx context.Context, requestID string, journalID *redmine.JournalID, redmineStatus string,
	cs config.ClientStatus, label string, at time.Time) (bool, error) {
	at = ts(at)
	changed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := getRequest(ctx, tx, requestID, true)
		if err != nil {
			return err
		}
		// The bridge dates a journal's status change 1 µs after its note:
		// moved, it stays 1 µs after the note moved the same way.
		gap := time.Microsecond
		if journalID != nil {
			gap = 2 * time.Microsecond
		}
		at, err := redmineEventAt(ctx, tx, req.ID, journalID, at, gap)
		if err != nil {
			return err
		}
		if req.RedmineStatus != redmineStatus {
			if _, err := tx.Exec(ctx, `UPDATE requests SET redmine_status = $2, updated_at = GREATEST(updated_at, $3) WHERE id = $1`,
				req.ID, redmineStatus, at); err != nil {
				return fmt.Errorf("recording redmine status: %w", err)
			}
			changed = true
		}
		if cs == "" || cs == req.Status {
			return nil
		}
		var id string
		err = tx.QueryRow(ctx, `
			INSERT INTO messages (request_id, author_kind, kind, author_name, body, client_status, source, redmine_journal_id, mirrored_at, created_at)
			VALUES ($1, 'system', 'status', $2, $3, $4, 'redmine', $5, $6, $6)
			ON CONFLICT DO NOTHING
			RETURNING id::text`, req.ID, AgencyName, label, string(cs), journalID, at).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // this journal's status change is already in the thread
		}
		if err != nil {
			return fmt.Errorf("storing status event: %w", err)
		}
		if err := setClientStatus(ctx, tx, &req, cs, at); err != nil {
			return err
		}
		changed = true
		return nil
	})
	return changed, err
}

// AddStaffAttachment stores a document staff attached publicly to the issue
// without a note (Redmine attachment redmineAttachmentID): a system message
// "Document ajouté : NAME" signed "Agence", dated at, carrying the file. It is
// idempotent on the Redmine attachment id: it returns false and stores nothing
// when that attachment is already stored (also when it is a client's own file
// the bridge uploaded, once recorded with SetAttachmentRedmineID). The name is
// sanitized; an empty content type (or one with a NUL byte or invalid UTF-8)
// is stored as application/octet-stream. Its journal is not known here: it
// is dated no earlier than just after every client message and closing
// already in Redmine (see redmineEventAt). ErrNotFound when there is no such request.
func (s *Store) AddStaffAttachment(ctx context.Context, requestID string, redmineAttachmentID redmine.AttachmentID, filename,
	contentType string, data []byte, at time.Time) (bool, error) {
	at = ts(at)
	contentType = cleanContentType(contentType)
	name := SanitizeFilename(filename, contentType)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := getRequest(ctx, tx, requestID, true)
		if err != nil {
			return err
		}
		// After every journal recorded so far: the bridge applies a
		// journal's documents when it reads that journal, after the client
		// messages already in Redmine.
		latest := redmine.JournalID(math.MaxInt32)
		at, err := redmineEventAt(ctx, tx, req.ID, &latest, at, time.Microsecond)
		if err != nil {
			return err
		}
		msg, err := insertMessage(ctx, tx, Message{
			RequestID: req.ID, AuthorKind: AuthorSystem, Kind: KindMessage, AuthorName: AgencyName,
			Body: "Document ajouté : " + name, Source: "redmine", MirroredAt: &at, CreatedAt: at,
		}, nil)
		if err != nil {
			return err
		}
		rid := redmineAttachmentID
		ok, err := insertAttachmentOnce(ctx, tx, Attachment{
			MessageID: msg.ID, RequestID: req.ID, Filename: name, ContentType: contentType, Data: data, RedmineAttachmentID: &rid,
		}, at)
		if err != nil {
			return err
		}
		if !ok {
			return errNothingToDo
		}
		return touchRequest(ctx, tx, &req, at)
	})
	if errors.Is(err, errNothingToDo) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// redmineEventAt is when to date something Redmine did (a staff note, a
// status change, a staff document), Redmine's time being at: what Redmine
// did after a client message reached it comes after that message in the
// thread, whatever the clocks say (Redmine's may be behind Passerelle's, and
// its times are whole seconds). With a journal, at is moved, when it is not
// later already, to gap after the latest of the request's messages that are
// in Redmine before that journal:
//   - the first client message (the issue's description: every journal comes
//     after it);
//   - the client's follow-ups and closings recorded with an earlier journal
//     (redmine_journal_id < journal); a follow-up that reopened the request
//     counts with its "reopened" event, 1 µs after it.
//
// Without a journal (nil), at is moved to gap after the request's latest
// message. The reading is in tx, which holds the request's lock.
func redmineEventAt(ctx context.Context, tx pgx.Tx, requestID string, journalID *redmine.JournalID, at time.Time, gap time.Duration) (time.Time, error) {
	var latest *time.Time
	err := tx.QueryRow(ctx, `
		SELECT max(m.created_at + CASE WHEN m.reopens THEN interval '1 microsecond' ELSE interval '0' END)
		FROM messages m
		WHERE m.request_id = $1 AND (
			$2::integer IS NULL
			OR (m.redmine_journal_id < $2 AND ((m.author_kind = 'client' AND m.kind = 'message') OR m.kind = 'closed'))
			OR m.id = (SELECT f.id FROM messages f WHERE f.request_id = $1 AND f.author_kind = 'client' AND f.kind = 'message'
			           ORDER BY f.created_at, f.id LIMIT 1))`, requestID, journalID).Scan(&latest)
	if err != nil {
		return time.Time{}, fmt.Errorf("ordering after the client's messages: %w", err)
	}
	if latest != nil {
		if floor := ts(latest.Add(gap)); at.Before(floor) {
			return floor, nil
		}
	}
	return at, nil
}

// cleanText makes text from Redmine storable as PostgreSQL text: a NUL byte,
// which text refuses, and invalid UTF-8 become U+FFFD, so such a note is
// stored and shown rather than failing every time it is read.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// cleanContentType is a content type from Redmine as stored: an empty one,
// or one PostgreSQL text cannot hold (NUL byte, invalid UTF-8), is
// application/octet-stream.
func cleanContentType(ct string) string {
	if ct == "" || strings.ContainsRune(ct, 0) || !utf8.ValidString(ct) {
		return "application/octet-stream"
	}
	return ct
}

// PendingClientActions counts the client's follow-ups and closings on a
// request that are not in Redmine yet (created since `since`). While there are
// some, Redmine's status is older than what the client did, and the bridge
// must not apply it over the client's own close or reopen.
func (s *Store) PendingClientActions(ctx context.Context, requestID string, since time.Time) (int, error) {
	if !validUUID(requestID) {
		return 0, ErrNotFound
	}
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM messages
		WHERE request_id = $1 AND mirrored_at IS NULL AND created_at >= $2
		  AND ((author_kind = 'client' AND kind = 'message') OR kind = 'closed')`, requestID, ts(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting pending client actions: %w", err)
	}
	return n, nil
}
