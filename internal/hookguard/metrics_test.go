package hookguard

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Each Metrics counts on its own registerer: two daemons in one process
// (tests) never collide, and nil is a private registry.
func TestMetricsOnTheirOwnRegisterer(t *testing.T) {
	_, _ = NewMetrics(nil), NewMetrics(nil) // no duplicate registration
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Error(httptest.NewRecorder(), "inbound", http.StatusUnauthorized, "bad_signature", "x")
	m.Count("redmine", http.StatusAccepted)
	if n := testutil.CollectAndCount(reg, "passerelle_webhook_calls_total"); n != 2 {
		t.Fatalf("passerelle_webhook_calls_total has %d series, want 2", n)
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues("inbound", "401")); got != 1 {
		t.Errorf("inbound 401 counted %v, want 1", got)
	}
}
