package espaceclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
type KratosSessions struct {
	api *ory.APIClient
}

// NewKratosSessions returns a checker on Kratos' public URL. hc may be nil
// (a client with DefaultKratosTimeout).
func NewKratosSessions(publicURL string, hc *http.Client) *KratosSessions {
	return &KratosSessions{api: newKratosClient(publicURL, hc)}
}

// sessionCredentials extracts what identifies a session: the
// ory_kratos_session cookie alone (as a Cookie header value; other cookies of
// the request are never forwarded) and the X-Session-Token header.
func sessionCredentials(r *http.Request) (cookie, token string) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		cookie = (&http.Cookie{Name: SessionCookie, Value: c.Value}).String()
	}
	token = strings.TrimSpace(r.Header.Get(SessionTokenHeader))
	return cookie, token
}

// Check implements SessionChecker.
func (k *KratosSessions) Check(ctx context.Context, r *http.Request) (Identity, error) {
	cookie, token := sessionCredentials(r)
	if cookie == "" && token == "" {
		return Identity{}, errUnauthenticated
	}
	req := k.api.FrontendAPI.ToSession(ctx)
	if cookie != "" {
		req = req.Cookie(cookie)
	}
	if token != "" {
		req = req.XSessionToken(token)
	}
	sess, resp, err := req.Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp == nil || resp.StatusCode >= 500 {
			return Identity{}, withCause(errSessionUnavailable, kratosCause("checking session", resp, err))
		}
		// 401 (no or invalid session), 403 (a higher assurance level
		// required) and any other refusal: the client must log in again.
		return Identity{}, withCause(errUnauthenticated, kratosCause("checking session", resp, err))
	}
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
// lower case). Errors as ByID.
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
		return directoryIdentity(&list[0])
	}
	return Identity{}, fmt.Errorf("looking up identity by e-mail: %s identities share that identifier", strconv.Itoa(len(list)))
}

func directoryIdentity(ki *ory.Identity) (Identity, error) {
	if ki.State != nil && *ki.State != "active" {
		return Identity{}, ErrIdentityInactive
	}
	return identityFromKratos(ki)
}
