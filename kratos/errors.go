package kratos

import (
	"errors"
	"fmt"
)

// The typed errors of this package. Sessions.Check fails with exactly one of
// ErrNoSession, ErrNoRole and ErrUnavailable (possibly wrapping a cause, for
// the log); callers tell them apart with errors.Is. The customer space's JSON
// API answers them 401 unauthenticated, 403 no_role and 503
// session_unavailable; its pages will send the first to the login page.
var (
	// ErrNoSession: no credential was sent, or Kratos refused it (unknown,
	// expired or revoked session, an inactive identity, a higher assurance
	// level required). The client must log in again.
	ErrNoSession = errors.New("kratos: no valid session")
	// ErrNoRole: the session is valid but its identity has no valid role in
	// metadata_public (tenant or owner): the agency has not set it up yet.
	ErrNoRole = errors.New("kratos: the identity has no valid role")
	// ErrUnavailable: Kratos could not answer (unreachable, a timeout, a
	// 5xx, or not ready to read its sessions): an outage, never a logout.
	ErrUnavailable = errors.New("kratos: unavailable")

	// ErrNotFound is returned by Directory when no identity matches,
	// including a malformed id.
	ErrNotFound = errors.New("kratos: no such identity")
	// ErrIdentityInactive is returned by Directory for an identity an admin
	// deactivated.
	ErrIdentityInactive = errors.New("kratos: identity is inactive")
	// ErrEmailUnverified is returned by Directory.ByEmail for an identity
	// whose login e-mail is neither verified in Kratos nor the one the
	// agency recorded in metadata_public.email: a trait the client may have
	// chosen, which must not let a channel act on that identity's behalf.
	ErrEmailUnverified = errors.New("kratos: e-mail address neither verified nor set by the agency")
)

// fail returns kind, wrapping cause when there is one: errors.Is finds both.
func fail(kind, cause error) error {
	if cause == nil {
		return kind
	}
	return fmt.Errorf("%w: %w", kind, cause)
}
