package clientnotify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/kratos"
)

// An endpoint that keeps failing is retried while it has failed for less
// than a day, then disabled with its pending deliveries marked failed; an
// admin enables it again. The clock is the Service's, moved by the test.
func TestEndpointFailingForADayIsDisabled(t *testing.T) {
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_SYNC_API_KEY")
	t.Setenv("PASSERELLE_REDMINE_API_KEY", env[1])
	cfg, err := config.Load(env[0])
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer down.Close()
	cfg.Webhooks.Outbound = []config.OutboundWebhook{{Name: "portail", URL: down.URL, Secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}}
	pool, _ := testenv.NewPool(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s, err := New(Config{Holder: config.NewHolder(cfg), Pool: pool, Directory: kratos.NewDirectory(cfg.Kratos.AdminURL, nil),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var reqID string
	if err := pool.QueryRow(ctx, `INSERT INTO requests (reference, identity_id, author_role, author_name, author_email, category, subject)
		VALUES ('T-2026-000001', gen_random_uuid(), 'tenant', 'Camille', 'c@example.test', 'autre', 's') RETURNING id`).Scan(&reqID); err != nil {
		t.Fatal(err)
	}
	newDelivery := func() string {
		var msgID, id string
		if err := pool.QueryRow(ctx, `INSERT INTO messages (request_id, author_kind, author_name, body, notified_at) VALUES ($1, 'staff', 'Marie', 'b', now()) RETURNING id`, reqID).Scan(&msgID); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `INSERT INTO outbound_deliveries (endpoint, message_id, event_type, payload) VALUES ('portail', $1, 'message.agency', '{}') RETURNING id`, msgID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	status := func(id string) (st string, attempts int) {
		if err := pool.QueryRow(ctx, `SELECT status, attempts FROM outbound_deliveries WHERE id = $1`, id).Scan(&st, &attempts); err != nil {
			t.Fatal(err)
		}
		return st, attempts
	}

	first := newDelivery()
	if err := s.deliverWebhook(ctx, first); err == nil {
		t.Fatal("a 502 was taken for a delivery")
	}
	if st, n := status(first); st != "pending" || n != 1 {
		t.Fatalf("after a first failure: %s after %d attempt(s), want pending after 1", st, n)
	}
	now = now.Add(23 * time.Hour)
	if err := s.deliverWebhook(ctx, first); err == nil {
		t.Fatal("retried after 23 h of failures: want a retryable error")
	}
	waiting := newDelivery()
	now = now.Add(90 * time.Minute) // failing for 24 h 30 min
	if err := s.deliverWebhook(ctx, first); err != nil {
		t.Fatalf("after a day of failures: %v, want no retry", err)
	}
	if st, _ := status(first); st != "failed" {
		t.Fatalf("after a day of failures: %s, want failed", st)
	}
	if st, _ := status(waiting); st != "failed" {
		t.Fatalf("another pending delivery of the disabled endpoint: %s, want failed", st)
	}
	list, err := ListEndpoints(ctx, pool)
	if err != nil || len(list) != 1 || list[0].DisabledAt == nil || list[0].Failed != 2 {
		t.Fatalf("endpoints: %+v %v", list, err)
	}
	if ok, err := EnableEndpoint(ctx, pool, "portail"); !ok || err != nil {
		t.Fatalf("enable: %v %v", ok, err)
	}
	list, _ = ListEndpoints(ctx, pool)
	if list[0].DisabledAt != nil || list[0].FailingSince != nil {
		t.Fatalf("after enable: %+v", list[0])
	}
}
