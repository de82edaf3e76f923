package espaceclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	ory "github.com/ory/kratos-client-go"

	"passerelle/config"
)

// SessionCookie is the name of Kratos' browser session cookie. It is the only
// cookie forwarded to Kratos.
const SessionCookie = "ory_kratos_session"

// SessionTokenHeader carries a Kratos session token (API clients, mobile apps).
const SessionTokenHeader = "X-Session-Token"

// SessionChecker authenticates an HTTP request of the customer space. The
// handlers depend on this interface only.
type SessionChecker interface {
	// Check returns the identity behind the request's session. Its errors are
	// *Error: 401 unauthenticated (no session, invalid or expired), 403 no_role
	// (the identity has no valid role in metadata_public), 503
	// session_unavailable (Kratos unreachable or failing).
	Check(ctx context.Context, r *http.Request) (Identity, error)
}

// DefaultKratosTimeout bounds one call to Kratos.
const DefaultKratosTimeout = 5 * time.Second

func newKratosClient(baseURL string, hc *http.Client) *ory.APIClient {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultKratosTimeout}
	}
	c := ory.NewConfiguration()
	c.Servers = ory.ServerConfigurations{{URL: strings.TrimRight(baseURL, "/")}}
	c.HTTPClient = hc
	c.UserAgent = "passerelle"
	return ory.NewAPIClient(c)
}

// KratosSessions checks sessions with Kratos' public API
// (FrontendAPI.ToSession, i.e. GET /sessions/whoami) on every request: no
// cache, so a revoked session or a deactivated identity is refused at once.
//
// A Kratos that cannot answer is an outage, not a logout: connection
// refused, a timeout or a 5xx is 503 session_unavailable, and so is a 401
// given while Kratos is not ready (its database down), see Check.
type KratosSessions struct {
	api       *ory.APIClient
	hc        *http.Client
	publicURL string
}

// NewKratosSessions returns a checker on Kratos' public URL. hc may be nil
// (a client with DefaultKratosTimeout).
func NewKratosSessions(publicURL string, hc *http.Client) *KratosSessions {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultKratosTimeout}
	}
	return &KratosSessions{api: newKratosClient(publicURL, hc), hc: hc, publicURL: strings.TrimRight(publicURL, "/")}
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
	// 5xx): 503, the client stays logged in.
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

// Check implements SessionChecker.
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
// a probe that cannot be made, answers 503 session_unavailable: an outage,
// never a logout. (Seen on the stack: one 401 among 89 posts during a
// PostgreSQL restart before this check.)
func (k *KratosSessions) Check(ctx context.Context, r *http.Request) (Identity, error) {
	cookie, token := sessionCredentials(r)
	if cookie == "" && token == "" {
		return Identity{}, errUnauthenticated
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
			return Identity{}, withCause(errSessionUnavailable, err)
		case verdictRefused:
			// 403 (a higher assurance level required) and any other
			// refusal: the client must log in again.
			return Identity{}, withCause(errUnauthenticated, err)
		}
		// 401: a real logout only if Kratos can read its sessions.
		if rerr := k.ready(ctx); rerr != nil {
			return Identity{}, withCause(errSessionUnavailable,
				fmt.Errorf("%w; kratos is not ready, so the 401 is not a logout: %v", err, rerr))
		}
		lastErr = err
	}
	return Identity{}, withCause(errUnauthenticated, lastErr)
}

// whoami calls /sessions/whoami once; status is 0 when no answer came.
func (k *KratosSessions) whoami(ctx context.Context, cookie, token string) (*ory.Session, int, error) {
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
func (k *KratosSessions) ready(ctx context.Context) error {
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
		return Identity{}, errUnauthenticated
	}
	if sess.ExpiresAt != nil && time.Now().After(*sess.ExpiresAt) {
		return Identity{}, errUnauthenticated
	}
	if st := sess.Identity.State; st != nil && *st != "active" {
		return Identity{}, errUnauthenticated
	}
	return identityFromKratos(sess.Identity)
}

// kratosCause describes a failed Kratos call for the log (never a token: the
// client puts credentials in headers only).
func kratosCause(what string, resp *http.Response, err error) error {
	if resp != nil {
		return fmt.Errorf("%s: kratos answered %s: %w", what, resp.Status, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// kratosTraits are the traits of the identity schema (deploy/kratos/identity.schema.json).
type kratosTraits struct {
	Email string `json:"email"`
	Name  struct {
		First string `json:"first"`
		Last  string `json:"last"`
	} `json:"name"`
}

// kratosMetadata is the identity's metadata_public, written only through the
// Kratos admin API: {"role":"tenant"|"owner","lots":[...],"mandates":[...]}.
type kratosMetadata struct {
	Role     string     `json:"role"`
	Lots     stringList `json:"lots"`
	Mandates stringList `json:"mandates"`
}

// stringList accepts a JSON list of strings or numbers (a lot number typed
// as 12 by an admin) and keeps each non-empty value once.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	seen := map[string]bool{}
	out := []string{}
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(r, &n); err != nil {
				return fmt.Errorf("expected a list of strings: %w", err)
			}
			s = n.String()
		}
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	*l = out
	return nil
}

// identityFromKratos builds an Identity: e-mail and name from the traits (the
// user's own, used for display and contact only), role, lots and mandates
// ONLY from metadata_public. An identity without a valid role gets 403 no_role.
func identityFromKratos(ki *ory.Identity) (Identity, error) {
	id := Identity{ID: ki.Id, Lots: []string{}, Mandates: []string{}}
	var tr kratosTraits
	if b, err := json.Marshal(ki.Traits); err == nil {
		_ = json.Unmarshal(b, &tr)
	}
	id.Email = strings.TrimSpace(tr.Email)
	id.Name = cleanLine(strings.TrimSpace(tr.Name.First + " " + tr.Name.Last))
	var md kratosMetadata
	if ki.MetadataPublic != nil {
		b, err := json.Marshal(ki.MetadataPublic)
		if err != nil || json.Unmarshal(b, &md) != nil {
			return id, errNoRole
		}
	}
	role := config.Role(strings.TrimSpace(md.Role))
	if role != config.RoleTenant && role != config.RoleOwner {
		return id, errNoRole
	}
	id.Role = role
	if md.Lots != nil {
		id.Lots = md.Lots
	}
	if md.Mandates != nil {
		id.Mandates = md.Mandates
	}
	if !validUUID(id.ID) {
		return id, withCause(errUnauthenticated, fmt.Errorf("kratos identity id %q is not a uuid", id.ID))
	}
	return id, nil
}

// ErrIdentityInactive is returned by IdentityDirectory for an identity an
// admin deactivated.
var ErrIdentityInactive = errors.New("espaceclient: identity is inactive")

// IdentityDirectory finds clients through Kratos' admin API, for callers that
// act on a client's behalf without a session (the signed inbound webhook).
// The admin API has no authentication: its URL must stay private.
type IdentityDirectory struct {
	api *ory.APIClient
}

// NewIdentityDirectory returns a directory on Kratos' admin URL. hc may be nil.
func NewIdentityDirectory(adminURL string, hc *http.Client) *IdentityDirectory {
	return &IdentityDirectory{api: newKratosClient(adminURL, hc)}
}

// ByID returns the identity with that Kratos id. ErrNotFound when there is
// none (or the id is malformed), ErrIdentityInactive when it is deactivated,
// a 403 no_role *Error when it has no valid role.
func (d *IdentityDirectory) ByID(ctx context.Context, id string) (Identity, error) {
	if !validUUID(id) {
		return Identity{}, ErrNotFound
	}
	ki, resp, err := d.api.IdentityAPI.GetIdentity(ctx, id).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return Identity{}, ErrNotFound
		}
		return Identity{}, kratosCause("reading identity "+id, resp, err)
	}
	return directoryIdentity(ki)
}

// ByEmail returns the identity whose login identifier is that e-mail
// (ListIdentities with credentials_identifier; Kratos stores identifiers in
// lower case), provided the address is vouched for (emailVouched), else
// ErrEmailUnverified. Other errors as ByID.
func (d *IdentityDirectory) ByEmail(ctx context.Context, email string) (Identity, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return Identity{}, ErrNotFound
	}
	list, resp, err := d.api.IdentityAPI.ListIdentities(ctx).CredentialsIdentifier(email).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return Identity{}, kratosCause("looking up identity by e-mail", resp, err)
	}
	switch len(list) {
	case 0:
		return Identity{}, ErrNotFound
	case 1:
		id, err := directoryIdentity(&list[0])
		if err == nil && !emailVouched(&list[0], email) {
			return Identity{}, ErrEmailUnverified
		}
		return id, err
	}
	return Identity{}, fmt.Errorf("looking up identity by e-mail: %s identities share that identifier", strconv.Itoa(len(list)))
}

// ErrEmailUnverified is returned by IdentityDirectory.ByEmail for an
// identity whose login e-mail is neither verified in Kratos nor the one the
// agency recorded in metadata_public.email: a trait the client may have
// chosen, which must not let a channel act on that identity's behalf.
var ErrEmailUnverified = errors.New("espaceclient: e-mail address neither verified nor set by the agency")

// emailVouched tells whether email (lower case) is an address of ki that
// someone other than the client vouches for: a verifiable address Kratos
// marks verified (the client proved it owns it: an invitation or recovery
// code sent to it, or imported verified by the agency), or the
// metadata_public "email" the agency writes through the admin API.
func emailVouched(ki *ory.Identity, email string) bool {
	for _, a := range ki.VerifiableAddresses {
		if a.Verified && strings.EqualFold(strings.TrimSpace(a.Value), email) {
			return true
		}
	}
	if md, ok := ki.MetadataPublic.(map[string]any); ok {
		if s, ok := md["email"].(string); ok && strings.EqualFold(strings.TrimSpace(s), email) {
			return true
		}
	}
	return false
}

func directoryIdentity(ki *ory.Identity) (Identity, error) {
	if ki.State != nil && *ki.State != "active" {
		return Identity{}, ErrIdentityInactive
	}
	return identityFromKratos(ki)
}
