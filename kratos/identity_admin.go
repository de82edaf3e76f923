package kratos

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	ory "github.com/ory/kratos-client-go"

	"passerelle/internal/textnorm"
)

// Kratos identity states (identity.state).
const (
	identityStateActive   = "active"
	identityStateInactive = "inactive"
)

// IdentityChange reports what SetIdentityState did.
type IdentityChange struct {
	// ID is the identity's Kratos id.
	ID string
	// Email is its login identifier (as the agency set it).
	Email string
	// PreviousState is the state before the change ("active" or "inactive").
	PreviousState string
	// State is the state after the change.
	State string
	// SessionsRevoked is true when at least one session was deleted.
	SessionsRevoked bool
}

// Deactivate sets the identity named by ref (a Kratos id or a login e-mail)
// inactive and then deletes every one of its sessions, so that a later
// re-activation never brings an old session back (Kratos keeps the sessions
// of an inactive identity and honours them again once it is active). The
// order matters: once inactive, no new session can be created, so none
// survives the deletion. Running it again on an inactive identity deletes its
// sessions again and changes nothing else.
func (d *Directory) Deactivate(ctx context.Context, ref string) (IdentityChange, error) {
	return d.setState(ctx, ref, identityStateInactive)
}

// Activate sets the identity named by ref active again. It deletes the
// identity's sessions first: a session left from before a deactivation made
// elsewhere (the Kratos admin API called directly) must not come back to
// life; the client logs in again.
func (d *Directory) Activate(ctx context.Context, ref string) (IdentityChange, error) {
	return d.setState(ctx, ref, identityStateActive)
}

func (d *Directory) setState(ctx context.Context, ref, state string) (IdentityChange, error) {
	ki, err := d.lookup(ctx, ref)
	if err != nil {
		return IdentityChange{}, err
	}
	ch := IdentityChange{ID: ki.Id, Email: loginEmail(ki), PreviousState: identityStateActive, State: state}
	if ki.State != nil {
		ch.PreviousState = *ki.State
	}
	if state == identityStateActive {
		if ch.SessionsRevoked, err = d.revokeSessions(ctx, ki.Id); err != nil {
			return ch, err
		}
	}
	if ch.PreviousState != state {
		patch := []ory.JsonPatch{{Op: "replace", Path: "/state", Value: state}}
		_, resp, err := d.api.IdentityAPI.PatchIdentity(ctx, ki.Id).JsonPatch(patch).Execute()
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return ch, kratosCause("setting identity "+ki.Id+" "+state, resp, err)
		}
	}
	if state == identityStateInactive {
		if ch.SessionsRevoked, err = d.revokeSessions(ctx, ki.Id); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// revokeSessions deletes every session of the identity (admin API DELETE
// /admin/identities/{id}/sessions). Kratos answers 404 when there was none.
func (d *Directory) revokeSessions(ctx context.Context, id string) (bool, error) {
	resp, err := d.api.IdentityAPI.DeleteIdentitySessions(ctx, id).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return false, nil
		}
		return false, kratosCause("revoking the sessions of identity "+id, resp, err)
	}
	return true, nil
}

// lookup finds the identity named by ref, whatever its state: a Kratos id, or
// else a login e-mail (the credentials identifier the agency set).
func (d *Directory) lookup(ctx context.Context, ref string) (*ory.Identity, error) {
	ref = strings.TrimSpace(ref)
	if textnorm.IsUUID(ref) {
		ki, resp, err := d.api.IdentityAPI.GetIdentity(ctx, ref).Execute()
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				return nil, fmt.Errorf("no identity %s: %w", ref, ErrNotFound)
			}
			return nil, kratosCause("reading identity "+ref, resp, err)
		}
		return ki, nil
	}
	email := strings.ToLower(ref)
	if !strings.Contains(email, "@") {
		return nil, fmt.Errorf("%q is neither a Kratos identity id (uuid) nor an e-mail: %w", ref, ErrNotFound)
	}
	list, resp, err := d.api.IdentityAPI.ListIdentities(ctx).CredentialsIdentifier(email).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, kratosCause("looking up identity by e-mail", resp, err)
	}
	switch len(list) {
	case 0:
		return nil, fmt.Errorf("no identity with login %s: %w", email, ErrNotFound)
	case 1:
		return &list[0], nil
	}
	return nil, fmt.Errorf("%d identities share the login %s: name one by its id", len(list), email)
}

// loginEmail returns the identity's password identifier (its login e-mail),
// else its e-mail trait.
func loginEmail(ki *ory.Identity) string {
	if ki.Credentials != nil {
		if pw, ok := (*ki.Credentials)["password"]; ok && len(pw.Identifiers) > 0 {
			return pw.Identifiers[0]
		}
	}
	if m, ok := ki.Traits.(map[string]any); ok {
		if e, ok := m["email"].(string); ok {
			return e
		}
	}
	return ""
}
