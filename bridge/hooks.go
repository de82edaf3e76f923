package bridge

import (
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/internal/hookguard"
)

// Bounds of POST /hooks/redmine against a caller who is not (yet)
// authenticated (internal/hookguard). A delivery past the concurrency cap is
// answered 503 with Retry-After at once, without reading its body.
const (
	// redmineConcurrency is how many POST /hooks/redmine at once. The plugin
	// posts from one thread per save; its bodies are a few KB.
	redmineConcurrency = 16
	// redmineReadTimeout is how long a Redmine nudge (1 MiB at most) may
	// take to arrive whole.
	redmineReadTimeout = 10 * time.Second
)

// Hooks serves POST /hooks/redmine. (POST /hooks/inbound, which never
// touches Redmine, is the customer space's: espaceclient.Inbound.)
type Hooks struct {
	bridge *Bridge
	holder *config.Holder
	store  Store
	log    *logrus.Logger

	// redmine bounds the hook against unauthenticated callers; tests lower them.
	redmine hookguard.Bounds
	// metrics count the answers (WithMetrics; default a private registry).
	metrics *hookguard.Metrics
}

// NewHooks returns the Redmine webhook's handler.
func NewHooks(b *Bridge, holder *config.Holder, log *logrus.Logger) *Hooks {
	return &Hooks{bridge: b, holder: holder, store: b.cfg.Store, log: log,
		redmine: hookguard.NewBounds(redmineConcurrency, redmineReadTimeout), metrics: hookguard.NewMetrics(nil)}
}

// WithMetrics makes the hook count its answers on m (the daemon's, served on
// /metrics) and returns it.
func (h *Hooks) WithMetrics(m *hookguard.Metrics) *Hooks {
	h.metrics = m
	return h
}

// Register adds POST /hooks/redmine to mux.
func (h *Hooks) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /hooks/redmine", h.handleRedmineHook)
}
