package bridge_test

import (
	"context"
	"testing"

	"passerelle/config"
	"passerelle/database"
)

// The sweep's logic: which requests count as stranded. The promise itself
// (a SIGKILLed replica's work resumes within seconds) is proved on the running
// binary by e2e TestTwentyKillsDuringBurst.
func TestRedriveFindsOnlyRequestsNobodyWorksOn(t *testing.T) {
	h := newHarness(t, harnessOpts{noStart: true})
	ctx := context.Background()
	pool := h.pool
	c := h.newClient(config.RoleTenant, []string{"A-101"}, nil)

	// dead makes the request look like a SIGKILL left it: its wake-up job
	// "running" (no process behind it), its action older than the grace.
	dead := func(t *testing.T, requestID string) {
		t.Helper()
		if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now()
			WHERE args->>'request_id' = $1`, requestID); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE messages SET created_at = created_at - interval '1 minute' WHERE request_id = $1`, requestID); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		arrange  func(t *testing.T, requestID string) (undo func())
		stranded bool
	}{
		{"its wake-up still queued", func(t *testing.T, id string) func() {
			if _, err := pool.Exec(ctx, `UPDATE messages SET created_at = created_at - interval '1 minute' WHERE request_id = $1`, id); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, false},
		{"its job left running by a dead process", func(t *testing.T, id string) func() {
			dead(t, id)
			return func() {}
		}, true},
		{"just filed (within the grace)", func(t *testing.T, id string) func() {
			if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'running' WHERE args->>'request_id' = $1`, id); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, false},
		{"a live drain holds its lock", func(t *testing.T, id string) func() {
			dead(t, id)
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($2, hashtext($1))`, id, database.LockRequest); err != nil {
				t.Fatal(err)
			}
			return func() {
				_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($2, hashtext($1))`, id, database.LockRequest)
				conn.Release()
			}
		}, false},
		{"stopped until resync", func(t *testing.T, id string) func() {
			dead(t, id)
			if _, err := pool.Exec(ctx, `UPDATE requests SET mirror_error = 'HTTP 422' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, false},
		{"waiting for Redmine (job retryable)", func(t *testing.T, id string) func() {
			dead(t, id)
			if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'retryable', scheduled_at = now() + interval '5 minutes'
				WHERE args->>'request_id' = $1`, id); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, false},
	}
	var strandedIDs []string
	var lockedID string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.create(map[string]string{"category": "autre", "subject": "Fuite : " + tc.name, "body": "Fuite sous l'évier."})
			undo := tc.arrange(t, r.ID)
			defer undo()
			ids, err := h.bridge.StrandedRequests(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, id := range ids {
				got = got || id == r.ID
			}
			if got != tc.stranded {
				t.Fatalf("stranded = %v, want %v (sweep found %v)", got, tc.stranded, ids)
			}
			if got {
				strandedIDs = append(strandedIDs, r.ID)
			}
			if tc.name == "a live drain holds its lock" {
				lockedID = r.ID
			}
		})
	}
	if len(strandedIDs) != 1 || lockedID == "" {
		t.Fatalf("want one stranded request to redrive, have %v", strandedIDs)
	}
	// The lock's holder is gone now (undo released it) without finishing:
	// that request is stranded too, as after a drain cut off by a kill.
	strandedIDs = append(strandedIDs, lockedID)

	// The sweep queues each once; the workers then mirror each once,
	// although the dead jobs are still "running" (River would rescue them
	// only after JobTimeout).
	n, err := h.bridge.Redrive(ctx)
	if err != nil || n != len(strandedIDs) {
		t.Fatalf("redrive: %d, %v; want %d requests queued", n, err, len(strandedIDs))
	}
	if n, err := h.bridge.Redrive(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep: %d, %v; want 0 (the wake-up is queued)", n, err)
	}
	h.start()
	for _, id := range strandedIDs {
		issueID := h.waitMirrored(c, id)
		ref := c.get(id).Reference
		found, err := h.admin.FindByCustomField(ctx, h.cfg.Redmine.CustomFields.Reference, ref, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].ID != issueID {
			t.Fatalf("Redmine has %d issues for %s, want exactly #%d", len(found), ref, issueID)
		}
	}
}
