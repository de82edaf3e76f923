package kratos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	ory "github.com/ory/kratos-client-go"

	"passerelle/internal/textnorm"
)

// Directory finds clients through Kratos' admin API, for callers that
// act on a client's behalf without a session (the signed inbound webhook).
// The admin API has no authentication: its URL must stay private.
type Directory struct {
	api *ory.APIClient
}

// NewDirectory returns a directory on Kratos' admin URL. hc may be nil.
func NewDirectory(adminURL string, hc *http.Client) *Directory {
	return &Directory{api: newClient(adminURL, hc)}
}

// ByID returns the identity with that Kratos id. ErrNotFound when there is
// none (or the id is malformed), ErrIdentityInactive when it is deactivated,
// ErrNoRole when it has no valid role.
func (d *Directory) ByID(ctx context.Context, id string) (Identity, error) {
	if !textnorm.IsUUID(id) {
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
func (d *Directory) ByEmail(ctx context.Context, email string) (Identity, error) {
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
	return fromKratos(ki)
}
