package bridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"passerelle/config"
)

// A job that failed while Redmine was down and is scheduled for a late retry
// runs as soon as a poll succeeds again; a second successful poll wakes
// nothing more (backoff stays in charge of a job failing for its own reason).
// The promise on the running binary: e2e TestRedmineStoppedWhileClientsWrite
// (time from Redmine's restart to everything mirrored).
func TestRedmineBackWakesTheJobsThatWaited(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	pool := h.pool
	c := h.newClient(config.RoleTenant, []string{"A-102"}, nil)

	h.net.down.Store(true)
	r := c.create(map[string]string{"category": "autre", "subject": "Chaudière en panne", "body": "Plus d'eau chaude depuis ce matin."})
	h.waitFor("the request's job failed at least once", 30*time.Second, func() bool {
		var failures int
		_ = pool.QueryRow(ctx, `SELECT coalesce(array_length(errors, 1), 0) FROM river_job WHERE args->>'request_id' = $1 ORDER BY id LIMIT 1`, r.ID).Scan(&failures)
		return failures > 0
	})
	// Stop the workers' retries so the job stays as a long outage leaves
	// it: retryable, its next attempt far away.
	h.waitFor("the job back to retryable, an hour away", 30*time.Second, func() bool {
		tag, err := pool.Exec(ctx, `UPDATE river_job SET state = 'retryable', scheduled_at = now() + interval '1 hour'
			WHERE args->>'request_id' = $1 AND state IN ('retryable', 'available')`, r.ID)
		return err == nil && tag.RowsAffected() == 1
	})
	h.net.down.Store(false)

	steps := []struct {
		name    string
		pollErr error
		want    int
	}{
		{"first successful poll of the process", nil, 1},
		{"next successful poll", nil, 0},
		{"a failed poll", errors.New("listing changed issues: connection refused"), 0},
		{"successful poll after the failed one (nothing left waiting)", nil, 0},
	}
	for i, st := range steps {
		got, err := h.bridge.AfterPoll(ctx, st.pollErr)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Fatalf("%s: woke %d jobs, want %d", st.name, got, st.want)
		}
		if i == 0 {
			if id := h.waitMirrored(c, r.ID); id == 0 {
				t.Fatal("not mirrored")
			}
		}
	}
}
