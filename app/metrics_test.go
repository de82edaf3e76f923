package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"passerelle/app"
)

// metricNames are every metric the daemon serves on /metrics; dashboards
// depend on these names.
var metricNames = []string{
	"passerelle_mirror_jobs_total",
	"passerelle_poll_duration_seconds",
	"passerelle_poll_issues_fetched_total",
	"passerelle_poll_list_requests_total",
	"passerelle_poll_errors_total",
	"passerelle_poll_issue_failures_total",
	"passerelle_redriven_requests_total",
	"passerelle_earlier_write_searches_total",
	"passerelle_webhook_calls_total",
	"passerelle_config_reloads_total",
	"promhttp_metric_handler_requests_total",
	"go_goroutines",
	"process_cpu_seconds_total",
}

// checkMetrics calls a webhook (so that its counter has a series), then
// waits for the admin listener's /metrics to list every name of
// metricNames. The caller has filed a request and reloaded once.
func checkMetrics(t *testing.T, publicURL, adminURL string) {
	t.Helper()
	resp, err := http.Post(publicURL+"/hooks/redmine", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(adminURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for _, name := range metricNames {
			if !strings.Contains(string(body), "\n# TYPE "+name+" ") {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkOwnRegistry builds a second daemon in the same process: its metrics
// live in a registry of its own (no duplicate registration, no count of a's).
func checkOwnRegistry(t *testing.T, a *app.App, opts app.Options) {
	t.Helper()
	b, err := app.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("a second app in the same process: %v", err)
	}
	defer b.Close()
	if got := testutil.ToFloat64(app.ReloadsCounter(t, b, "refused")); got != 0 {
		t.Errorf("the second app counts %v refused reloads, want 0 (its own registry)", got)
	}
	if got := testutil.ToFloat64(app.ReloadsCounter(t, a, "refused")); got == 0 {
		t.Error("the first app lost its refused reload")
	}
	if a.Gatherer() == b.Gatherer() {
		t.Error("two apps share one registry")
	}
}
