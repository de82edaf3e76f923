package kratos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	ory "github.com/ory/kratos-client-go"
)

// SessionCookie is the name of Kratos' browser session cookie. It is the only
// cookie forwarded to Kratos.
const SessionCookie = "ory_kratos_session"

// SessionTokenHeader carries a Kratos session token (API clients, mobile apps).
const SessionTokenHeader = "X-Session-Token"

// Sessions checks sessions with Kratos' public API
// (FrontendAPI.ToSession, i.e. GET /sessions/whoami) on every request: no
// cache, so a revoked session or a deactivated identity is refused at once.
//
// A Kratos that cannot answer is an outage, not a logout: connection
// refused, a timeout or a 5xx is ErrUnavailable, and so is a 401 given while
// Kratos is not ready (its database down), see Check.
type Sessions struct {
	api       *ory.APIClient
	hc        *http.Client
	publicURL string
}

// NewSessions returns a checker on Kratos' public URL. hc may be nil
// (a client with DefaultTimeout).
func NewSessions(publicURL string, hc *http.Client) *Sessions {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Sessions{api: newClient(publicURL, hc), hc: hc, publicURL: strings.TrimRight(publicURL, "/")}
}

// sessionCheckBudget bounds a whole Check (up to two whoami calls and two
// readiness probes), so a client is answered within seconds whatever Kratos
// does.
const sessionCheckBudget = 8 * time.Second

// readinessTimeout bounds one readiness probe.
const readinessTimeout = 2 * time.Second

// sessionCredentials extracts the ONE credential sent to Kratos: the
// X-Session-Token header when present, else the ory_kratos_session cookie
// alone (as a Cookie header value; other cookies of the request are never
// forwarded). Kratos given both reads the cookie first, and a stale or
// malformed cookie next to a valid token made it answer 500 (a 503 outage
// for a client who is logged in); so a token, which an API client sets on
// purpose, wins and the cookie is not sent.
func sessionCredentials(r *http.Request) (cookie, token string) {
	token = strings.TrimSpace(r.Header.Get(SessionTokenHeader))
	if token != "" {
		return "", token
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		cookie = (&http.Cookie{Name: SessionCookie, Value: c.Value}).String()
	}
	return cookie, ""
}

// whoamiVerdict is what one whoami answer means.
type whoamiVerdict int

const (
	// verdictSession: Kratos returned a session (still to be checked).
	verdictSession whoamiVerdict = iota
	// verdictUnavailable: Kratos could not answer (transport error, timeout,
	// 5xx): ErrUnavailable, the client stays logged in.
	verdictUnavailable
	// verdictUnauthorized: 401, which Kratos also gives when it cannot read
	// its sessions: only a logout once Kratos is known to be ready.
	verdictUnauthorized
	// verdictRefused: another 4xx (403: a higher assurance level required):
	// the client must log in again.
	verdictRefused
)

// classifyWhoami maps one whoami call's outcome (status 0 when no answer
// came) to its verdict.
func classifyWhoami(status int, err error) whoamiVerdict {
	switch {
	case err == nil && status/100 == 2:
		return verdictSession
	case status == 0 || status/100 == 2 || status >= 500:
		// No answer, a 2xx that could not be read, or Kratos failing.
		return verdictUnavailable
	case status == http.StatusUnauthorized:
		return verdictUnauthorized
	case status == http.StatusTooManyRequests:
		return verdictUnavailable
	}
	return verdictRefused
}

// Check returns the identity behind the request's session. It fails with
// ErrNoSession (no session, an invalid or expired one), ErrNoRole (the
// identity has no valid role in metadata_public) or ErrUnavailable (Kratos
// unreachable or failing), each possibly wrapping its cause.
//
// Kratos fact (v1.3.1, session/handler.go whoami, and
// session/manager_http.go FetchFromRequest): whoami answers every error of
// FetchFromRequest, including the persister's (GetSessionByToken) failing
// because Kratos' database is down or restarting, as
// ErrNoSessionFound.WithWrap(err): 401 "No valid session credentials found
// in the request.", the very answer of an unknown or expired session. The
// body cannot tell them apart. Kratos' GET /health/ready (public and admin
// ports, driver/registry_default.go HealthHandler) pings that database and
// answers 503 while it cannot. So a 401 is believed only when Kratos is
// ready; it is asked once more after a ready probe (the database may have
// come back between the two calls), and a 401 while Kratos is not ready, or
// a probe that cannot be made, is ErrUnavailable: an outage,
// never a logout. (Seen on the stack: one 401 among 89 posts during a
// PostgreSQL restart before this check.)
func (k *Sessions) Check(ctx context.Context, r *http.Request) (Identity, error) {
	cookie, token := sessionCredentials(r)
	if cookie == "" && token == "" {
		return Identity{}, ErrNoSession
	}
	ctx, cancel := context.WithTimeout(ctx, sessionCheckBudget)
	defer cancel()
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		sess, status, err := k.whoami(ctx, cookie, token)
		switch classifyWhoami(status, err) {
		case verdictSession:
			return sessionIdentity(sess)
		case verdictUnavailable:
			return Identity{}, fail(ErrUnavailable, err)
		case verdictRefused:
			// 403 (a higher assurance level required) and any other
			// refusal: the client must log in again.
			return Identity{}, fail(ErrNoSession, err)
		}
		// 401: a real logout only if Kratos can read its sessions.
		if rerr := k.ready(ctx); rerr != nil {
			return Identity{}, fail(ErrUnavailable,
				fmt.Errorf("%w; kratos is not ready, so the 401 is not a logout: %v", err, rerr))
		}
		lastErr = err
	}
	return Identity{}, fail(ErrNoSession, lastErr)
}

// whoami calls /sessions/whoami once; status is 0 when no answer came.
func (k *Sessions) whoami(ctx context.Context, cookie, token string) (*ory.Session, int, error) {
	req := k.api.FrontendAPI.ToSession(ctx)
	if cookie != "" {
		req = req.Cookie(cookie)
	}
	if token != "" {
		req = req.XSessionToken(token)
	}
	sess, resp, err := req.Execute()
	status := 0
	if resp != nil {
		status = resp.StatusCode
		if resp.Body != nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		return nil, status, kratosCause("checking session", resp, err)
	}
	return sess, status, nil
}

// ready asks Kratos' GET /health/ready (which pings Kratos' database); nil
// when it answers 200.
func (k *Sessions) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.publicURL+"/health/ready", nil)
	if err != nil {
		return err
	}
	resp, err := k.hc.Do(req)
	if err != nil {
		return fmt.Errorf("kratos readiness: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("kratos readiness: %s", resp.Status)
	}
	return nil
}

// sessionIdentity checks a session Kratos returned and builds its identity.
func sessionIdentity(sess *ory.Session) (Identity, error) {
	if sess == nil || sess.Identity == nil || (sess.Active != nil && !*sess.Active) {
		return Identity{}, ErrNoSession
	}
	if sess.ExpiresAt != nil && time.Now().After(*sess.ExpiresAt) {
		return Identity{}, ErrNoSession
	}
	if st := sess.Identity.State; st != nil && *st != "active" {
		return Identity{}, ErrNoSession
	}
	return fromKratos(sess.Identity)
}
