package bridge

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/riverqueue/river"
)

// Metrics are the sync's metrics exposed on /metrics; labels are small fixed
// sets. (The webhooks' calls are counted by internal/hookguard.)
type Metrics struct {
	mirrorJobs        *prometheus.CounterVec
	pollDuration      prometheus.Histogram
	pollFetched       prometheus.Counter
	pollLists         *prometheus.CounterVec
	pollErrors        prometheus.Counter
	pollIssueFailures prometheus.Counter
	redriven          prometheus.Counter
	// earlierSearches counts the searches for an earlier attempt's write
	// (store_rewind.go), by kind: create, note.
	earlierSearches *prometheus.CounterVec
}

// NewMetrics registers the sync's metrics on r. A nil r means a fresh
// private registry: the metrics are counted but served nowhere (tests,
// one-shot commands such as resync).
func NewMetrics(r prometheus.Registerer) *Metrics {
	if r == nil {
		r = prometheus.NewRegistry()
	}
	f := promauto.With(r)
	m := &Metrics{
		mirrorJobs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "passerelle_mirror_jobs_total",
			Help: "Mirroring jobs to Redmine by kind (request, message) and result (ok, retry, waiting, failed).",
		}, []string{"kind", "result"}),
		pollDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "passerelle_poll_duration_seconds",
			Help:    "Duration of one Redmine poll.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		pollFetched: f.NewCounter(prometheus.CounterOpts{
			Name: "passerelle_poll_issues_fetched_total",
			Help: "Mirrored issues read again by the poller because they changed.",
		}),
		pollLists: f.NewCounterVec(prometheus.CounterOpts{
			Name: "passerelle_poll_list_requests_total",
			Help: "Issue list requests of the poller by window: tight (every poll, from the cursor less a few seconds) or wide (the overlap's re-read, once per redmine.poll_overlap).",
		}, []string{"window"}),
		pollErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "passerelle_poll_errors_total",
			Help: "Polls that failed (Redmine unreachable or failing).",
		}),
		pollIssueFailures: f.NewCounter(prometheus.CounterOpts{
			Name: "passerelle_poll_issue_failures_total",
			Help: "Issues the poller could not apply (each is retried on its own and listed by check --live).",
		}),
		redriven: f.NewCounter(prometheus.CounterOpts{
			Name: "passerelle_redriven_requests_total",
			Help: "Requests whose pending actions had nobody working on them (a stopped process's job) and were queued again.",
		}),
		earlierSearches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "passerelle_earlier_write_searches_total",
			Help: "Searches of Redmine for an earlier attempt's write before writing (kind create or note): only after a failed attempt or a database rewind.",
		}, []string{"kind"}),
	}
	for _, w := range []string{"tight", "wide"} {
		m.pollLists.WithLabelValues(w) // both series from the start, at 0
	}
	for _, kind := range []string{"create", "note"} {
		m.earlierSearches.WithLabelValues(kind) // "no search" rather than no series
	}
	return m
}

// countPoll records what one poll did.
func (m *Metrics) countPoll(st PollStats) {
	m.pollFetched.Add(float64(st.Fetched))
	m.pollLists.WithLabelValues("tight").Add(float64(st.TightPages))
	m.pollLists.WithLabelValues("wide").Add(float64(st.WidePages))
}

// countJob records a mirroring job's outcome and returns err unchanged.
func (m *Metrics) countJob(kind string, err error) error {
	var cancel *river.JobCancelError
	var snooze *river.JobSnoozeError
	switch {
	case err == nil:
		m.mirrorJobs.WithLabelValues(kind, "ok").Inc()
	case errors.As(err, &snooze):
		m.mirrorJobs.WithLabelValues(kind, "waiting").Inc()
	case errors.As(err, &cancel):
		m.mirrorJobs.WithLabelValues(kind, "failed").Inc()
	default:
		m.mirrorJobs.WithLabelValues(kind, "retry").Inc()
	}
	return err
}
