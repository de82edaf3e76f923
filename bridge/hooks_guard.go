package bridge

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"passerelle/config"
)

// Bounds of the two hooks against a caller who is not (yet) authenticated:
// how many deliveries are read at once, how long reading one may take, and
// how large it may be. A delivery past the concurrency cap is answered 503
// with Retry-After at once, without reading its body.
const (
	// inboundConcurrency is how many POST /hooks/inbound are read and
	// processed at once. A gateway sends one at a time per client; with the
	// body cap below, this bounds the memory they hold to about 30 MiB.
	inboundConcurrency = 4
	// redmineConcurrency is how many POST /hooks/redmine at once. The plugin
	// posts from one thread per save; its bodies are a few KB.
	redmineConcurrency = 16
	// inboundReadTimeout is how long an inbound delivery may take to arrive
	// whole (7 MiB at the default caps: 250 KB/s is enough).
	inboundReadTimeout = 30 * time.Second
	// redmineReadTimeout is the same for a Redmine nudge (1 MiB at most).
	redmineReadTimeout = 10 * time.Second
	// hookRetryAfter is the Retry-After, in seconds, of a 503 busy answer.
	hookRetryAfter = 2
	// inboundTextAllowance is what an inbound body may hold besides its
	// base64 files: the JSON, the subject and the message text, escaped.
	// 10,000 characters of text at 6 bytes each (\u00e9) are 60 KB.
	inboundTextAllowance = 256 << 10
)

// inboundBodyLimit is the largest POST /hooks/inbound body: one
// uploads.max_file_size worth of files in base64 (4/3 of it) plus
// inboundTextAllowance. A delivery carries at most that much in files in
// total (a gateway sends more as follow-up messages): with the defaults,
// 5 MiB of files and a 6.9 MiB (7,252,652-byte) body, where it was 34 MiB before.
func inboundBodyLimit(cfg *config.Config) int64 {
	size := int64(cfg.Uploads.MaxFileSize)
	return (size+2)/3*4 + inboundTextAllowance
}

// slots is a concurrency cap: a buffered channel of tokens.
type slots chan struct{}

func newSlots(n int) slots { return make(slots, n) }

// tryAcquire takes a slot without waiting; release gives it back.
func (s slots) tryAcquire() (release func(), ok bool) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	default:
		return nil, false
	}
}

// hookBusy answers a delivery past the concurrency cap: 503, Retry-After,
// nothing read. The connection is closed, so that a large body in flight is
// not drained.
func hookBusy(w http.ResponseWriter, hook string) {
	w.Header().Set("Retry-After", strconv.Itoa(hookRetryAfter))
	w.Header().Set("Connection", "close")
	hookError(w, hook, http.StatusServiceUnavailable, "busy",
		"Trop de livraisons sont en cours de traitement : réessayez dans quelques secondes.")
}

// setReadDeadline bounds the time left to read the request's body. A writer
// that cannot (an httptest recorder) keeps the server's own timeouts.
func setReadDeadline(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
}

// errBodyTooLarge and errBodyTimeout are the two refusals of readHookBody
// the caller answers with their own status (413, 408).
var (
	errBodyTooLarge = errors.New("body too large")
	errBodyTimeout  = errors.New("body not received in time")
)

// readHookBody reads at most limit bytes of r's body, feeding each one into
// check as it arrives, so that the signature is computed while the body
// streams in. A declared Content-Length over limit is refused before
// anything is read.
func readHookBody(w http.ResponseWriter, r *http.Request, limit int64, check bodyCheck) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
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
		return nil, errBodyTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, errBodyTimeout
	}
	return nil, err
}

// bodyReadRefusal answers a readHookBody error.
func bodyReadRefusal(w http.ResponseWriter, hook string, limit int64, err error) {
	w.Header().Set("Connection", "close")
	switch {
	case errors.Is(err, errBodyTooLarge):
		hookError(w, hook, http.StatusRequestEntityTooLarge, "too_large",
			"Le corps de la livraison dépasse "+strconv.FormatInt(limit>>10, 10)+" Kio : envoyez les fichiers en plusieurs messages.")
	case errors.Is(err, errBodyTimeout):
		hookError(w, hook, http.StatusRequestTimeout, "timeout",
			"Le corps de la livraison n'est pas arrivé à temps : envoyez-le d'un trait.")
	default:
		hookError(w, hook, http.StatusBadRequest, "unreadable", "Le corps de la livraison n'a pas pu être lu.")
	}
}
