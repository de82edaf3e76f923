package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"passerelle/internal/testenv"
)

// `notifications failed` lists the mails given up, with whom, which request
// and why; none: it says so.
func TestNotificationsFailedListsWhatWasGivenUp(t *testing.T) {
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_SYNC_API_KEY")
	pool, dbURL := testenv.NewPool(t)
	cfgPath := filepath.Join(t.TempDir(), "passerelle.yaml")
	raw, err := os.ReadFile(env[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := []string{"PASSERELLE_DATABASE_URL=" + dbURL, "PASSERELLE_REDMINE_API_KEY=" + env[1]}
	if code, out := runBin(t, vars, "notifications", "failed", "--config", cfgPath); code != 0 || !strings.Contains(out, "no mail to a client given up") {
		t.Fatalf("empty list: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	var reqID, msgID string
	if err := pool.QueryRow(ctx, `INSERT INTO requests (reference, identity_id, author_role, author_name, author_email, category, subject)
		VALUES ('T-2026-000001', gen_random_uuid(), 'tenant', 'Camille', 'camille@example.test', 'autre', 's') RETURNING id`).Scan(&reqID); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO messages (request_id, author_kind, author_name, body) VALUES ($1, 'staff', 'Marie', 'b') RETURNING id`, reqID).Scan(&msgID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO client_notifications (message_id, request_id, identity_id, email, event, mode, status, attempts, last_error)
		VALUES ($1, $2, 'x', 'nobody@example.test', 'answer', 'immediate', 'failed', 1, '550 5.1.1 no such user')`, msgID, reqID); err != nil {
		t.Fatal(err)
	}
	code, out := runBin(t, vars, "notifications", "failed", "--config", cfgPath)
	for _, want := range []string{"nobody@example.test", "answer", "T-2026-000001", "550 5.1.1 no such user"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
