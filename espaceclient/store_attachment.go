package espaceclient

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/redmine"
)

const attachmentColumns = `a.id::text, a.message_id::text, a.request_id::text, a.filename, a.content_type, a.size,
	a.sha256, a.redmine_attachment_id`

func scanAttachment(row pgx.Row, withData bool) (Attachment, error) {
	var a Attachment
	dest := []any{&a.ID, &a.MessageID, &a.RequestID, &a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.RedmineAttachmentID}
	if withData {
		dest = append(dest, &a.Data)
	}
	if err := row.Scan(dest...); err != nil {
		return Attachment{}, notFound(err)
	}
	return a, nil
}

func attachmentSelect(withData bool) string {
	cols := attachmentColumns
	if withData {
		cols += `, a.data`
	}
	return `SELECT ` + cols + ` FROM attachments a `
}

// attachmentsWhere lists the attachments matching cond (with one argument), in
// upload order.
func attachmentsWhere(ctx context.Context, q querier, cond string, arg any, withData bool) ([]Attachment, error) {
	rows, err := q.Query(ctx, attachmentSelect(withData)+`WHERE `+cond+` ORDER BY a.created_at, a.id`, arg)
	if err != nil {
		return nil, fmt.Errorf("reading attachments: %w", err)
	}
	defer rows.Close()
	out := []Attachment{}
	for rows.Next() {
		a, err := scanAttachment(rows, withData)
		if err != nil {
			return nil, fmt.Errorf("reading attachments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading attachments: %w", err)
	}
	return out, nil
}

// GetAttachment returns one attachment of a request with its bytes.
// Unscoped: the Service checks the caller may read the request first.
// ErrNotFound when the attachment does not exist or belongs to another request.
func (s *Store) GetAttachment(ctx context.Context, requestID, attachmentID string) (Attachment, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !validUUID(requestID) || !validUUID(attachmentID) {
		return Attachment{}, ErrNotFound
	}
	return scanAttachment(s.pool.QueryRow(ctx, attachmentSelect(true)+`WHERE a.id = $1 AND a.request_id = $2`,
		attachmentID, requestID), true)
}

// AttachmentKnown tells whether the Redmine attachment redmineAttachmentID is
// already stored (a client's file the bridge uploaded, or a staff document
// already fetched), so the bridge fetches each one once.
func (s *Store) AttachmentKnown(ctx context.Context, redmineAttachmentID redmine.AttachmentID) (bool, error) {
	var known bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM attachments WHERE redmine_attachment_id = $1)`,
		redmineAttachmentID).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("looking up redmine attachment: %w", err)
	}
	return known, nil
}

// SetAttachmentRedmineID records the Redmine attachment a client's file became
// once the bridge uploaded it, so the poller recognizes it and never brings it
// back as a staff document. Setting the same id again is a no-op.
func (s *Store) SetAttachmentRedmineID(ctx context.Context, attachmentID string, redmineAttachmentID redmine.AttachmentID) error {
	if !validUUID(attachmentID) {
		return ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE attachments SET redmine_attachment_id = $2 WHERE id = $1`, attachmentID, redmineAttachmentID)
	if err != nil {
		return fmt.Errorf("recording redmine attachment id: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// insertAttachment stores a (its MessageID, RequestID, Filename, ContentType
// and Data set) with its size and SHA-256, and returns it with its id.
func insertAttachment(ctx context.Context, tx pgx.Tx, a Attachment, at time.Time) (Attachment, error) {
	sum := sha256.Sum256(a.Data)
	a.SHA256 = sum[:]
	a.Size = int64(len(a.Data))
	err := tx.QueryRow(ctx, `
		INSERT INTO attachments (message_id, request_id, filename, content_type, size, sha256, data, redmine_attachment_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING id::text`,
		a.MessageID, a.RequestID, a.Filename, a.ContentType, a.Size, a.SHA256, a.Data, a.RedmineAttachmentID, at).Scan(&a.ID)
	if err != nil {
		return Attachment{}, fmt.Errorf("storing attachment %q: %w", a.Filename, err)
	}
	return a, nil
}

// insertAttachmentOnce is insertAttachment for an attachment coming from
// Redmine: when its redmine_attachment_id is already stored it stores nothing
// and returns false.
func insertAttachmentOnce(ctx context.Context, tx pgx.Tx, a Attachment, at time.Time) (bool, error) {
	sum := sha256.Sum256(a.Data)
	var id string
	err := tx.QueryRow(ctx, `
		INSERT INTO attachments (message_id, request_id, filename, content_type, size, sha256, data, redmine_attachment_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (redmine_attachment_id) DO NOTHING
		RETURNING id::text`,
		a.MessageID, a.RequestID, a.Filename, a.ContentType, int64(len(a.Data)), sum[:], a.Data, a.RedmineAttachmentID, at).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storing attachment %q: %w", a.Filename, err)
	}
	return true, nil
}
