package espaceclient

import (
	"context"
	"errors"
	"net/http"

	"passerelle/kratos"
)

// Sessions authenticates an HTTP request of the customer space; the handlers
// depend on this interface only (kratos.Sessions in production).
type Sessions interface {
	// Check returns the identity behind the request's session. It fails with
	// kratos.ErrNoSession, kratos.ErrNoRole or kratos.ErrUnavailable (see
	// sessionRefusal), or with an *Error.
	Check(ctx context.Context, r *http.Request) (Identity, error)
}

// IdentityDirectory finds clients without a session, for the channels that
// act on a client's behalf (the signed inbound webhook); kratos.Directory in
// production. Its errors are kratos.ErrNotFound, kratos.ErrIdentityInactive,
// kratos.ErrEmailUnverified, kratos.ErrNoRole, or any other for an outage.
type IdentityDirectory interface {
	ByID(ctx context.Context, id string) (Identity, error)
	ByEmail(ctx context.Context, email string) (Identity, error)
}

// sessionRefusal turns the typed errors of package kratos into what the
// client is told: kratos.ErrNoSession is 401 unauthenticated,
// kratos.ErrNoRole 403 no_role, kratos.ErrUnavailable 503
// session_unavailable (Kratos unreachable, failing, or unable to read its
// sessions: never a logout). The cause is kept for the log when there is
// one. nil when err is none of them.
func sessionRefusal(err error) *Error {
	for _, m := range []struct {
		kind error
		e    *Error
	}{
		{kratos.ErrNoSession, errUnauthenticated},
		{kratos.ErrNoRole, errNoRole},
		{kratos.ErrUnavailable, errSessionUnavailable},
	} {
		if errors.Is(err, m.kind) {
			if err == m.kind {
				return m.e
			}
			return withCause(m.e, err)
		}
	}
	return nil
}
