package bridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/redmine"
)

// Benchmarks against the real stack. Compare each Passerelle figure with the
// raw Redmine call it wraps, measured in the same run (the machine is shared:
// only the ratio means something). Run with `make bench`.

// BenchmarkRawRedmineCreateIssue is the floor: one POST /issues.json as the
// sync user, nothing else.
func BenchmarkRawRedmineCreateIssue(b *testing.B) {
	h := newHarness(b, harnessOpts{noStart: true})
	ctx := context.Background()
	p, err := h.rm.Project(ctx, "gestion-locative")
	if err != nil {
		b.Fatal(err)
	}
	tr, _ := mustDirectory(b, h.rm, h.cfg).Tracker("Demande")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.rm.CreateIssue(ctx, redmine.IssueCreate{ProjectID: p.ID, TrackerID: tr.ID, Subject: fmt.Sprintf("bench raw %d", i),
			CustomFields: []redmine.CustomFieldSet{{ID: h.cfg.Redmine.CustomFields.Reference, Value: fmt.Sprintf("BENCH-RAW-%d-%d", time.Now().UnixNano(), i)}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMirrorRequestEndToEnd files a request through the customer-space
// API (Kratos session check, validation, storage, outbox) and waits until its
// Redmine issue exists and the acknowledgment is stored.
func BenchmarkMirrorRequestEndToEnd(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	tenant := h.newClient(config.RoleTenant, []string{uniqueName("LOT")}, nil)
	warm := tenant.create(map[string]string{"category": "autre", "subject": "warm-up", "body": "Mesure."})
	h.waitMirrored(tenant, warm.ID) // loads the Redmine directory once
	calls := h.net.calls.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := tenant.create(map[string]string{"category": "autre", "subject": fmt.Sprintf("bench %d", i), "body": "Mesure."})
		h.waitMirrored(tenant, r.ID)
	}
	b.StopTimer()
	b.ReportMetric(float64(h.net.calls.Load()-calls)/float64(b.N), "redmine-calls/op")
}

// BenchmarkRawRedmineListIssues is the list request of an idle poll (same
// filter, same window: the poll overlap), what an idle poll costs at best.
func BenchmarkRawRedmineListIssues(b *testing.B) {
	h := newHarness(b, harnessOpts{noStart: true})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		since := time.Now().Add(-h.cfg.Redmine.PollOverlap)
		if _, err := h.rm.ListIssues(ctx, redmine.IssueQuery{UpdatedSince: since, CustomFields: map[int]string{h.cfg.Redmine.CustomFields.Reference: "*"}, Sort: "updated_on,id", Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdlePoll is a whole idle poll: cursor read, one list request,
// per-issue state lookups, cursor write.
func BenchmarkIdlePoll(b *testing.B) {
	h := newHarness(b, harnessOpts{noStart: true})
	ctx := context.Background()
	if _, err := h.bridge.PollOnce(ctx); err != nil { // sets the cursor
		b.Fatal(err)
	}
	calls := h.net.calls.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.bridge.PollOnce(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(h.net.calls.Load()-calls)/float64(b.N), "redmine-calls/op")
}
