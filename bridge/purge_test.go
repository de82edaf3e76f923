package bridge_test

import (
	"context"
	"testing"
)

// Deliveries older than the retention are deleted, recent ones kept.
func TestPurgeKeepsOnlyRecentInboundDeliveries(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	ctx := context.Background()
	pool := h.pool
	rows := []struct {
		id, age string
		kept    bool
	}{
		{"old-answered", "31 days", false},
		{"old-claim-left-by-a-crash", "45 days", false},
		{"recent", "29 days", true},
		{"just-now", "0 seconds", true},
	}
	for _, r := range rows {
		if _, err := pool.Exec(ctx, `INSERT INTO inbound_deliveries (webhook_id, received_at, status_code, response)
			VALUES ($1, now() - $2::interval, 201, '{}')`, r.id, r.age); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.bridge.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM inbound_deliveries WHERE webhook_id = $1`, r.id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != r.kept {
			t.Errorf("%s (%s old): kept = %v, want %v", r.id, r.age, n == 1, r.kept)
		}
	}
}
