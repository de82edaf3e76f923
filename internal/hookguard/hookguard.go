// Package hookguard holds what both webhooks (the customer space's POST
// /hooks/inbound and the bridge's POST /hooks/redmine) need against callers
// who are not (yet) authenticated: a concurrency cap answered 503 at once, a
// bounded body read feeding the signature check as it streams in, a read
// deadline, and their JSON refusals, counted on
// passerelle_webhook_calls_total (Metrics).
package hookguard

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"passerelle/internal/httpx"
)

// RetryAfter is the Retry-After, in seconds, of a 503 busy answer.
const RetryAfter = 2

// Metrics count the webhooks' answers. One value serves both hooks: the
// daemon builds it once on its registry and hands it to each (WithMetrics).
type Metrics struct {
	calls *prometheus.CounterVec
}

// NewMetrics registers passerelle_webhook_calls_total on r. A nil r means a
// fresh private registry: calls are counted but served nowhere (tests).
func NewMetrics(r prometheus.Registerer) *Metrics {
	if r == nil {
		r = prometheus.NewRegistry()
	}
	return &Metrics{calls: promauto.With(r).NewCounterVec(prometheus.CounterOpts{
		Name: "passerelle_webhook_calls_total",
		Help: "Webhook calls by hook (redmine, inbound) and HTTP status.",
	}, []string{"hook", "status"})}
}

// Count records one answer of hook with status.
func (m *Metrics) Count(hook string, status int) {
	m.calls.WithLabelValues(hook, strconv.Itoa(status)).Inc()
}

// Bounds are one hook's limits against unauthenticated callers; tests lower
// them before the hook serves.
type Bounds struct {
	// Slots caps how many deliveries are read and processed at once.
	Slots Slots
	// ReadTimeout is how long one delivery may take to arrive whole.
	ReadTimeout time.Duration
}

// NewBounds returns bounds of concurrency slots and readTimeout.
func NewBounds(concurrency int, readTimeout time.Duration) Bounds {
	return Bounds{Slots: NewSlots(concurrency), ReadTimeout: readTimeout}
}

// Slots is a concurrency cap: a buffered channel of tokens.
type Slots chan struct{}

// NewSlots returns a cap of n.
func NewSlots(n int) Slots { return make(Slots, n) }

// TryAcquire takes a slot without waiting; release gives it back.
func (s Slots) TryAcquire() (release func(), ok bool) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	default:
		return nil, false
	}
}

// BodyCheck hashes a body as it is read and says at the end whether it is
// authentic.
type BodyCheck interface {
	Write(p []byte) (int, error)
	// Verify tells, once the whole body was written, whether it is authentic.
	Verify() error
}

// MACCheck is a BodyCheck comparing an HMAC of the body with the expected
// values (any one of them matching is enough).
type MACCheck struct {
	// MAC is the keyed hash, possibly already fed with a prefix.
	MAC hash.Hash
	// Want are the acceptable sums.
	Want [][]byte
}

// Write feeds the body into the MAC.
func (c *MACCheck) Write(p []byte) (int, error) { return c.MAC.Write(p) }

// Verify compares the MAC with every expected value.
func (c *MACCheck) Verify() error {
	got := c.MAC.Sum(nil)
	for _, w := range c.Want {
		if hmac.Equal(got, w) {
			return nil
		}
	}
	return errors.New("no valid v1 signature")
}

// AcceptAll is the BodyCheck of a delivery already authenticated by its
// headers (the Redmine plugin's token).
type AcceptAll struct{}

// Write discards p.
func (AcceptAll) Write(p []byte) (int, error) { return len(p), nil }

// Verify accepts.
func (AcceptAll) Verify() error { return nil }

// Busy answers a delivery past the concurrency cap: 503, Retry-After,
// nothing read. The connection is closed, so that a large body in flight is
// not drained.
func (m *Metrics) Busy(w http.ResponseWriter, hook string) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	w.Header().Set("Connection", "close")
	m.Error(w, hook, http.StatusServiceUnavailable, "busy",
		"Trop de livraisons sont en cours de traitement : réessayez dans quelques secondes.")
}

// SetReadDeadline bounds the time left to read the request's body. A writer
// that cannot (an httptest recorder) keeps the server's own timeouts.
func SetReadDeadline(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
}

// ErrTooLarge and ErrTimeout are the two refusals of ReadBody the caller
// answers with their own status (413, 408).
var (
	ErrTooLarge = errors.New("body too large")
	ErrTimeout  = errors.New("body not received in time")
)

// ReadBody reads at most limit bytes of r's body, feeding each one into
// check as it arrives, so that the signature is computed while the body
// streams in. A declared Content-Length over limit is refused before
// anything is read.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, check io.Writer) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, ErrTooLarge
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := io.Copy(io.MultiWriter(&buf, check), http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return buf.Bytes(), nil
	case errors.As(err, &mbe):
		return nil, ErrTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, ErrTimeout
	}
	return nil, err
}

// ReadRefusal answers a ReadBody error.
func (m *Metrics) ReadRefusal(w http.ResponseWriter, hook string, limit int64, err error) {
	w.Header().Set("Connection", "close")
	switch {
	case errors.Is(err, ErrTooLarge):
		m.Error(w, hook, http.StatusRequestEntityTooLarge, "too_large",
			"Le corps de la livraison dépasse "+strconv.FormatInt(limit>>10, 10)+" Kio : envoyez les fichiers en plusieurs messages.")
	case errors.Is(err, ErrTimeout):
		m.Error(w, hook, http.StatusRequestTimeout, "timeout",
			"Le corps de la livraison n'est pas arrivé à temps : envoyez-le d'un trait.")
	default:
		m.Error(w, hook, http.StatusBadRequest, "unreadable", "Le corps de la livraison n'a pas pu être lu.")
	}
}

// Error writes a JSON refusal {"error":{"code":...,"message":...}} of hook
// and counts it.
func (m *Metrics) Error(w http.ResponseWriter, hook string, status int, code, msg string) {
	m.Count(hook, status)
	httpx.WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
