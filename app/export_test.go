package app

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// ReloadsCounter exposes a's reload counter to the external tests.
func ReloadsCounter(t *testing.T, a *App, result string) prometheus.Counter {
	t.Helper()
	return a.reloaded.WithLabelValues(result)
}
