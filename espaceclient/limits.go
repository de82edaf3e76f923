package espaceclient

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"passerelle/config"
)

// Error codes of the limits (config.Limits):
//
//	413 quota_exceeded      the files would take the request or the identity over its storage quota
//	429 too_many_requests   the identity writes faster than limits.writes_per_minute
//	429 too_many_uploads    the identity already has limits.concurrent_uploads uploads in flight
//	429 server_busy         the process already reads limits.uploads_in_flight uploads (all identities)
//
// Every 429 carries a Retry-After header.

// identityLimits holds the write rate limiter and the count of uploads in
// flight of each identity that wrote recently. Per process.
type identityLimits struct {
	mu      sync.Mutex
	entries map[string]*identityLimit
	sweep   time.Time
	// uploads is the count of multipart posts in flight, all identities
	// together (limits.uploads_in_flight).
	uploads int
}

type identityLimit struct {
	writes   *rate.Limiter
	inflight int
	last     time.Time
}

// idleAfter is how long an identity's entry is kept after its last write: by
// then its bucket is full again (at the lowest rate allowed, 1/min with a
// burst up to 1000, it may not be: the entry then lives on).
const idleAfter = 15 * time.Minute

func newIdentityLimits() *identityLimits {
	return &identityLimits{entries: map[string]*identityLimit{}}
}

// limitRefusal is a 429 with its Retry-After, in seconds.
type limitRefusal struct {
	*Error
	retryAfter int
}

// admit lets one write of identity through, or refuses it with a 429 before
// anything is read or stored. upload says the write carries files (a
// multipart body): it then also takes one of the identity's upload slots,
// which release gives back.
func (l *identityLimits) admit(identity string, upload bool, lim config.Limits, now time.Time) (release func(), refusal *limitRefusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		l.sweepIdle(now)
	}
	every := rate.Every(time.Minute / time.Duration(lim.WritesPerMinute))
	e := l.entries[identity]
	if e == nil {
		e = &identityLimit{writes: rate.NewLimiter(every, lim.WritesBurst)}
		l.entries[identity] = e
	}
	e.last = now
	// A reloaded configuration applies to existing identities too.
	if e.writes.Limit() != every {
		e.writes.SetLimitAt(now, every)
	}
	if e.writes.Burst() != lim.WritesBurst {
		e.writes.SetBurstAt(now, lim.WritesBurst)
	}
	if upload && l.uploads >= lim.UploadsInFlight {
		return nil, &limitRefusal{retryAfter: 5, Error: newError(http.StatusTooManyRequests, "server_busy", "",
			"L'espace client reçoit beaucoup de fichiers en ce moment : réessayez dans quelques secondes. Rien n'a été enregistré pour cet envoi.")}
	}
	if upload && e.inflight >= lim.ConcurrentUploads {
		return nil, &limitRefusal{retryAfter: 2, Error: newError(http.StatusTooManyRequests, "too_many_uploads", "",
			"Un envoi de fichiers est déjà en cours sur votre compte (au plus %d à la fois) : attendez qu'il se termine, puis réessayez. Rien n'a été enregistré pour cet envoi.",
			lim.ConcurrentUploads)}
	}
	r := e.writes.ReserveN(now, 1)
	if !r.OK() {
		return nil, &limitRefusal{retryAfter: 60, Error: newError(http.StatusTooManyRequests, "too_many_requests", "",
			"Vous avez fait trop d'envois en peu de temps. Merci de réessayer dans une minute.")}
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		secs := int(math.Ceil(d.Seconds()))
		return nil, &limitRefusal{retryAfter: secs, Error: newError(http.StatusTooManyRequests, "too_many_requests", "",
			"Vous avez fait trop d'envois en peu de temps (au plus %d par minute) : rien n'a été enregistré. Merci de réessayer dans %s.",
			lim.WritesPerMinute, plural(secs, "seconde", "secondes"))}
	}
	if !upload {
		return func() {}, nil
	}
	e.inflight++
	l.uploads++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			e.inflight--
			l.uploads--
			e.last = time.Now()
			l.mu.Unlock()
		})
	}, nil
}

// sweepIdle forgets identities idle for idleAfter whose bucket is full, so
// the map does not grow with every identity that ever wrote. Called with mu.
func (l *identityLimits) sweepIdle(now time.Time) {
	l.sweep = now
	for id, e := range l.entries {
		if e.inflight == 0 && now.Sub(e.last) > idleAfter && e.writes.TokensAt(now) >= float64(e.writes.Burst()) {
			delete(l.entries, id)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + strings.TrimPrefix(one, "un ")
	}
	return strconv.Itoa(n) + " " + many
}

// isWrite tells whether the method changes something.
func isWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// isUpload tells whether the body may carry files.
func isUpload(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/")
}

// limitsConfig returns the current limits, defaults filled in.
func (s *Service) limitsConfig() config.Limits {
	cfg := s.cfg.Get()
	return cfg.Limits.WithDefaults(cfg.Uploads)
}

// checkQuota refuses files that would take the request (requestID, "" for a
// new one) or the identity over its storage quota, with a 413 saying what is
// left. Counted from the stored attachments of the identity's own messages,
// before the write's transaction: two uploads racing may overshoot by one
// message, which the concurrency cap (limits.concurrent_uploads) bounds.
func (s *Service) checkQuota(ctx context.Context, id Identity, requestID string, files []Upload) error {
	var incoming int64
	for _, f := range files {
		incoming += int64(len(f.Data))
	}
	if incoming == 0 {
		return nil
	}
	lim := s.limitsConfig()
	onRequest, byIdentity, err := s.store.StoredBytes(ctx, id.ID, requestID)
	if err != nil {
		return err
	}
	if onRequest+incoming > int64(lim.RequestQuota) {
		return newError(http.StatusRequestEntityTooLarge, "quota_exceeded", filesField,
			"Ces fichiers (%s) dépassent la place réservée aux documents d'une demande (%s, dont %s déjà utilisés) : rien n'a été enregistré. Envoyez moins de fichiers ou de plus légers, ou ouvrez une nouvelle demande.",
			humanBytes(incoming), humanBytes(int64(lim.RequestQuota)), humanBytes(onRequest))
	}
	if byIdentity+incoming > int64(lim.IdentityQuota) {
		return newError(http.StatusRequestEntityTooLarge, "quota_exceeded", filesField,
			"Ces fichiers (%s) dépassent la place réservée à vos documents (%s, dont %s déjà utilisés) : rien n'a été enregistré. Merci de contacter l'agence.",
			humanBytes(incoming), humanBytes(int64(lim.IdentityQuota)), humanBytes(byIdentity))
	}
	return nil
}

// humanBytes writes a size the French way: "4,5 Mo", "300 ko".
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.Replace(strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64), ".", ",", 1) + " Mo"
	case n >= 1<<10:
		return fmt.Sprintf("%d ko", n>>10)
	}
	return fmt.Sprintf("%d octets", n)
}
