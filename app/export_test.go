package app

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// ReloadsCounter exposes the reload counter to the external tests.
func ReloadsCounter(t *testing.T, result string) prometheus.Counter {
	t.Helper()
	return reloads.WithLabelValues(result)
}
