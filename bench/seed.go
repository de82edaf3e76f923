package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// seedSpec is what seed writes into a deployment's database.
type seedSpec struct {
	requests, clients int
	// firstClient is the Kratos identity of client 0 (a real tenant, so the
	// pages can be read as one of the 10,000).
	firstClient string
	// prefix is the deployment's reference prefix (the seeded references
	// are prefix-S-000001 …, which the daemon never makes).
	prefix string
	// rulesVersion is the deadlines' rules fingerprint the daemon uses, so
	// the seeded computations are up to date (the watcher's steady state).
	rulesVersion string
}

func newUUID() pgtype.UUID {
	var u pgtype.UUID
	_, _ = rand.Read(u.Bytes[:])
	u.Bytes[6] = u.Bytes[6]&0x0f | 0x40
	u.Bytes[8] = u.Bytes[8]&0x3f | 0x80
	u.Valid = true
	return u
}

// seed COPYs open requests spread evenly over clients (each with its
// client message and acknowledgment, mirrored to issue numbers Redmine does
// not have, and an up-to-date deadline computation) into the database.
// Removing it is dropping the throwaway database.
func seed(ctx context.Context, conn *pgx.Conn, s seedSpec) (time.Duration, error) {
	start := time.Now()
	clients := make([]pgtype.UUID, s.clients)
	for i := range clients {
		clients[i] = newUUID()
	}
	if s.firstClient != "" {
		if err := clients[0].Scan(s.firstClient); err != nil {
			return 0, fmt.Errorf("seed: the first client's identity %q: %w", s.firstClient, err)
		}
	}
	now := time.Now().UTC()
	ids := make([]pgtype.UUID, s.requests)
	reqRows := make([][]any, s.requests)
	msgRows := make([][]any, 0, 2*s.requests)
	dlRows := make([][]any, s.requests)
	for i := range reqRows {
		ids[i] = newUUID()
		c := i % s.clients
		created := now.Add(-time.Duration(s.requests-i) * time.Minute)
		due := now.Add(time.Duration(1+i%72) * time.Hour)
		status := "new"
		if i%3 == 0 {
			status = "in_progress"
		}
		reqRows[i] = []any{ids[i], fmt.Sprintf("%s-S-%06d", s.prefix, i+1), clients[c], "tenant",
			fmt.Sprintf("Client %d", c), fmt.Sprintf("client-%d@example.test", c), "autre",
			fmt.Sprintf("Demande de test %d", i), status, "New", 20_000_000 + i, due, created, created, 2, created, 2}
		msgRows = append(msgRows,
			[]any{newUUID(), ids[i], "client", "message", fmt.Sprintf("Client %d", c), clients[c], "Texte de la demande de test.", created, created, created},
			[]any{newUUID(), ids[i], "system", "ack", "Agence", nil, "Accusé de réception.", created.Add(time.Second), created, created})
		dlRows[i] = []any{ids[i], created, 2, s.rulesVersion, due.Add(-30 * time.Minute), "", ""}
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"requests", []string{"id", "reference", "identity_id", "author_role", "author_name", "author_email", "category",
			"subject", "status", "redmine_status", "redmine_issue_id", "due_at", "created_at", "updated_at",
			"message_count", "deadlines_for", "deadlines_msgs"}, reqRows},
		// mirrored_at and notified_at set: the seeded history is already in
		// Redmine and its mails already sent (the daemon must not redo
		// either: steady state, and no mail to the stack's shared catcher).
		{"messages", []string{"id", "request_id", "author_kind", "kind", "author_name", "identity_id", "body", "created_at",
			"mirrored_at", "notified_at"}, msgRows},
		{"request_deadlines", []string{"request_id", "computed_for", "computed_msgs", "rules_version", "next_alert_at",
			"due_field", "due_field_sent"}, dlRows},
	}
	// The requests carry their message count already (2): the trigger that
	// keeps it (migration 00070) is off while the messages are copied, on
	// again before anything else runs (the daemon is stopped meanwhile).
	if _, err := conn.Exec(ctx, "ALTER TABLE messages DISABLE TRIGGER messages_count"); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	for _, c := range copies {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return 0, fmt.Errorf("seed: COPY into %s: %w", c.table, err)
		}
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE messages ENABLE TRIGGER messages_count"); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE requests, messages, request_deadlines"); err != nil {
		return 0, fmt.Errorf("seed: ANALYZE: %w", err)
	}
	return time.Since(start), nil
}
