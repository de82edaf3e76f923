package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	ory "github.com/ory/kratos-client-go"

	"passerelle/config"
)

// SchemaID is the identity schema of every client (deploy/kratos/identity.schema.json).
const SchemaID = "client"

// ErrExists is returned by CreateClient when an identity already has that
// login e-mail.
var ErrExists = errors.New("kratos: an identity already has that login e-mail")

// ClientRecord is what the agency sets on a client's identity: the e-mail
// and name traits, and the role, lots and mandates of metadata_public.
type ClientRecord struct {
	Email    string
	First    string
	Last     string
	Role     config.Role
	Lots     []string
	Mandates []string
}

// Name is "First Last".
func (c ClientRecord) Name() string { return strings.TrimSpace(c.First + " " + c.Last) }

// Same tells whether two records say the same thing (e-mail case, and the
// order and repetitions of lots and mandates, aside).
func (c ClientRecord) Same(o ClientRecord) bool {
	return strings.EqualFold(c.Email, o.Email) && c.First == o.First && c.Last == o.Last && c.Role == o.Role &&
		slices.Equal(normList(c.Lots), normList(o.Lots)) && slices.Equal(normList(c.Mandates), normList(o.Mandates))
}

// normList trims, drops empty values and repetitions, and sorts.
func normList(in []string) []string {
	out := []string{}
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Client is an identity as the agency's tools show it.
type Client struct {
	ClientRecord
	ID string
	// State is "active" or "inactive".
	State string
	// Verified is true when Kratos marks the login e-mail verified (a
	// self-service recovery or verification; Kratos v1.3.1 does not mark it
	// for a code the admin API created, such as an invitation's).
	Verified bool
	// HasPassword is true once the client chose a password: the invitation
	// is completed.
	HasPassword bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// LastLogin is the latest authenticated_at of the sessions Kratos keeps
	// for the identity (zero when none: never logged in, or its sessions
	// were deleted, as a deactivation does). Kratos v1.3.1 records no last
	// login on the identity itself.
	LastLogin time.Time
}

// CreateClient creates a client identity (schema "client", no password: the
// client chooses one through the invitation's recovery code; the e-mail is
// not marked verified) and returns its id. ErrExists when an
// identity already has that login e-mail.
func (d *Directory) CreateClient(ctx context.Context, c ClientRecord) (string, error) {
	body := ory.CreateIdentityBody{
		SchemaId:       SchemaID,
		Traits:         traitsOf(c),
		MetadataPublic: metadataOf(c, nil),
	}
	ki, resp, err := d.api.IdentityAPI.CreateIdentity(ctx).CreateIdentityBody(body).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusConflict {
			return "", fmt.Errorf("creating identity %s: %w", c.Email, ErrExists)
		}
		return "", kratosCause("creating identity "+c.Email, resp, err)
	}
	return ki.Id, nil
}

// UpdateClient sets the name traits and the role, lots and mandates of an
// identity to those of c, keeping the e-mail and any other metadata_public
// key (such as an "email" the agency vouches for).
func (d *Directory) UpdateClient(ctx context.Context, id string, c ClientRecord) error {
	ki, err := d.lookup(ctx, id)
	if err != nil {
		return err
	}
	tr, _ := ki.Traits.(map[string]any)
	if tr == nil {
		tr = map[string]any{}
	}
	tr["name"] = map[string]any{"first": c.First, "last": c.Last}
	old, _ := ki.MetadataPublic.(map[string]any)
	patch := []ory.JsonPatch{
		{Op: "replace", Path: "/traits", Value: tr},
		{Op: "replace", Path: "/metadata_public", Value: metadataOf(c, old)},
	}
	_, resp, err := d.api.IdentityAPI.PatchIdentity(ctx, ki.Id).JsonPatch(patch).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return kratosCause("updating identity "+ki.Id, resp, err)
	}
	return nil
}

// Recovery is an invitation's secret: a recovery link and code (never log
// them).
type Recovery struct {
	Link      string
	Code      string
	ExpiresAt time.Time
}

// RecoveryCode creates a recovery code for the identity, valid ttl (admin
// API POST /admin/recovery/code, a browser flow): the link opens the
// customer space's recovery page, where the code is typed; the settings page
// then lets the client choose a password.
func (d *Directory) RecoveryCode(ctx context.Context, id string, ttl time.Duration) (Recovery, error) {
	body := ory.NewCreateRecoveryCodeForIdentityBody(id)
	body.SetExpiresIn(ttl.String())
	body.SetFlowType("browser")
	rc, resp, err := d.api.IdentityAPI.CreateRecoveryCodeForIdentity(ctx).CreateRecoveryCodeForIdentityBody(*body).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return Recovery{}, kratosCause("creating a recovery code for identity "+id, resp, err)
	}
	r := Recovery{Link: rc.RecoveryLink, Code: rc.RecoveryCode}
	if rc.ExpiresAt != nil {
		r.ExpiresAt = *rc.ExpiresAt
	}
	return r, nil
}

// FindClient returns the identity whose login is email (whatever its state
// or role). ErrNotFound when there is none.
func (d *Directory) FindClient(ctx context.Context, email string) (Client, error) {
	ki, err := d.lookup(ctx, email)
	if err != nil {
		return Client{}, err
	}
	full, resp, err := d.api.IdentityAPI.GetIdentity(ctx, ki.Id).IncludeCredential([]string{"password"}).Execute()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return Client{}, kratosCause("reading identity "+ki.Id, resp, err)
	}
	return clientOf(full), nil
}

// ListClients returns every identity, oldest first, with its last login.
func (d *Directory) ListClients(ctx context.Context) ([]Client, error) {
	var out []Client
	token := ""
	for {
		req := d.api.IdentityAPI.ListIdentities(ctx).PageSize(500).IncludeCredential([]string{"password"})
		if token != "" {
			req = req.PageToken(token)
		}
		list, resp, err := req.Execute()
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, kratosCause("listing identities", resp, err)
		}
		for i := range list {
			out = append(out, clientOf(&list[i]))
		}
		token = nextPageToken(resp)
		if token == "" || len(list) == 0 {
			break
		}
	}
	last, err := d.lastLogins(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].LastLogin = last[out[i].ID]
	}
	return out, nil
}

// lastLogins reads every session Kratos keeps (admin GET /admin/sessions,
// active or not) and returns the latest authenticated_at per identity.
func (d *Directory) lastLogins(ctx context.Context) (map[string]time.Time, error) {
	last := map[string]time.Time{}
	token := ""
	for {
		req := d.api.IdentityAPI.ListSessions(ctx).PageSize(1000).Expand([]string{"identity"})
		if token != "" {
			req = req.PageToken(token)
		}
		list, resp, err := req.Execute()
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, kratosCause("listing sessions", resp, err)
		}
		for _, s := range list {
			if s.Identity == nil || s.AuthenticatedAt == nil {
				continue
			}
			if at := *s.AuthenticatedAt; at.After(last[s.Identity.Id]) {
				last[s.Identity.Id] = at
			}
		}
		token = nextPageToken(resp)
		if token == "" || len(list) == 0 {
			return last, nil
		}
	}
}

// nextPageToken reads the page_token of the Link header's rel="next" (Kratos'
// keyset pagination), "" on the last page.
func nextPageToken(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	for _, part := range strings.Split(resp.Header.Get("Link"), ",") {
		if !strings.Contains(part, `rel="next"`) {
			continue
		}
		u := part[strings.Index(part, "<")+1 : max(strings.Index(part, ">"), strings.Index(part, "<")+1)]
		if _, q, ok := strings.Cut(u, "?"); ok {
			for _, kv := range strings.Split(q, "&") {
				if v, ok := strings.CutPrefix(kv, "page_token="); ok {
					return v
				}
			}
		}
	}
	return ""
}

func traitsOf(c ClientRecord) map[string]any {
	return map[string]any{
		"email": strings.ToLower(strings.TrimSpace(c.Email)),
		"name":  map[string]any{"first": c.First, "last": c.Last},
	}
}

// metadataOf returns old (copied) with role, lots and mandates set from c,
// and "email" (the address the agency vouches for, see emailVouched) when
// old has none: Kratos v1.3.1 never marks an invited client's address
// verified (an admin-created recovery code does not).
func metadataOf(c ClientRecord, old map[string]any) map[string]any {
	md := map[string]any{}
	for k, v := range old {
		md[k] = v
	}
	if _, ok := md["email"]; !ok {
		md["email"] = strings.ToLower(strings.TrimSpace(c.Email))
	}
	md["role"] = string(c.Role)
	md["lots"] = normList(c.Lots)
	md["mandates"] = normList(c.Mandates)
	return md
}

// clientOf reads an identity leniently (an identity without a valid role is
// listed too, with an empty role).
func clientOf(ki *ory.Identity) Client {
	c := Client{ID: ki.Id, State: identityStateActive}
	if ki.State != nil {
		c.State = *ki.State
	}
	var tr kratosTraits
	if b, err := json.Marshal(ki.Traits); err == nil {
		_ = json.Unmarshal(b, &tr)
	}
	c.Email, c.First, c.Last = strings.TrimSpace(tr.Email), tr.Name.First, tr.Name.Last
	if login := loginEmail(ki); login != "" {
		c.Email = login
	}
	var md kratosMetadata
	if b, err := json.Marshal(ki.MetadataPublic); err == nil {
		_ = json.Unmarshal(b, &md)
	}
	if r := config.Role(strings.TrimSpace(md.Role)); r == config.RoleTenant || r == config.RoleOwner {
		c.Role = r
	}
	c.Lots, c.Mandates = normList(md.Lots), normList(md.Mandates)
	for _, a := range ki.VerifiableAddresses {
		if a.Verified && strings.EqualFold(a.Value, c.Email) {
			c.Verified = true
		}
	}
	if ki.Credentials != nil {
		if pw, ok := (*ki.Credentials)["password"]; ok {
			h, _ := pw.Config["hashed_password"].(string)
			c.HasPassword = h != ""
		}
	}
	if ki.CreatedAt != nil {
		c.CreatedAt = *ki.CreatedAt
	}
	if ki.UpdatedAt != nil {
		c.UpdatedAt = *ki.UpdatedAt
	}
	return c
}
