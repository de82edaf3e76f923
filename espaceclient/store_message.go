package espaceclient

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
)

const messageColumns = `m.id::text, m.request_id::text, m.author_kind, m.kind, m.author_name, COALESCE(m.identity_id::text, ''),
	m.body, m.client_status, m.source, m.redmine_journal_id, m.reopens, m.mirrored_at, m.created_at`

func scanMessage(row pgx.Row) (Message, error) {
	var m Message
	var cs string
	err := row.Scan(&m.ID, &m.RequestID, &m.AuthorKind, &m.Kind, &m.AuthorName, &m.IdentityID,
		&m.Body, &cs, &m.Source, &m.RedmineJournalID, &m.Reopens, &m.MirroredAt, &m.CreatedAt)
	if err != nil {
		return Message{}, notFound(err)
	}
	m.ClientStatus = config.ClientStatus(cs)
	m.Attachments = []Attachment{}
	return m, nil
}

// GetMessage returns one message with its attachments, their bytes loaded
// when withData. Unscoped (the bridge's lookup). ErrNotFound when there is none.
func (s *Store) GetMessage(ctx context.Context, id string, withData bool) (Message, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !validUUID(id) {
		return Message{}, ErrNotFound
	}
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages m WHERE m.id = $1`, id))
	if err != nil {
		return Message{}, err
	}
	atts, err := attachmentsWhere(ctx, s.pool, `a.message_id = $1`, id, withData)
	if err != nil {
		return Message{}, err
	}
	m.Attachments = atts
	return m, nil
}

// loadThread fills req.Messages: every message in order (created_at, then
// id), each with its attachments.
func loadThread(ctx context.Context, q querier, req *Request, withData bool) error {
	rows, err := q.Query(ctx, `SELECT `+messageColumns+` FROM messages m WHERE m.request_id = $1 ORDER BY m.created_at, m.id`, req.ID)
	if err != nil {
		return fmt.Errorf("reading thread: %w", err)
	}
	msgs := []Message{}
	index := map[string]int{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("reading thread: %w", err)
		}
		index[m.ID] = len(msgs)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading thread: %w", err)
	}
	atts, err := attachmentsWhere(ctx, q, `a.request_id = $1`, req.ID, withData)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if i, ok := index[a.MessageID]; ok {
			msgs[i].Attachments = append(msgs[i].Attachments, a)
		}
	}
	req.Messages = msgs
	return nil
}

// insertMessage stores msg (RequestID, AuthorKind, Kind, AuthorName, Body,
// CreatedAt set by the caller) and its files, and returns it with its id and
// its attachments (without their bytes).
func insertMessage(ctx context.Context, tx pgx.Tx, msg Message, files []checkedFile) (Message, error) {
	var identity *string
	if msg.IdentityID != "" {
		identity = &msg.IdentityID
	}
	if msg.Kind == "" {
		msg.Kind = KindMessage
	}
	err := tx.QueryRow(ctx, `
		INSERT INTO messages (request_id, author_kind, kind, author_name, identity_id, body, client_status, source,
			redmine_journal_id, reopens, mirrored_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING id::text`,
		msg.RequestID, msg.AuthorKind, msg.Kind, msg.AuthorName, identity, msg.Body, string(msg.ClientStatus), msg.Source,
		msg.RedmineJournalID, msg.Reopens, msg.MirroredAt, msg.CreatedAt).Scan(&msg.ID)
	if err != nil {
		return Message{}, fmt.Errorf("storing message: %w", err)
	}
	msg.Attachments = []Attachment{}
	for i, f := range files {
		// Attachments are listed by created_at: one microsecond apart, they
		// keep the order the client sent them in.
		a, err := insertAttachment(ctx, tx, Attachment{
			MessageID: msg.ID, RequestID: msg.RequestID, Filename: f.Filename, ContentType: f.ContentType, Data: f.Data,
		}, msg.CreatedAt.Add(time.Duration(i)*time.Microsecond))
		if err != nil {
			return Message{}, err
		}
		a.Data = nil
		msg.Attachments = append(msg.Attachments, a)
	}
	return msg, nil
}
