// Package kratostest creates real Kratos identities and sessions for tests,
// against the Kratos of the project's stack (`make stack`, .stack/env:
// KRATOS_PUBLIC_URL and KRATOS_ADMIN_URL). Identities get a unique e-mail and
// are deleted when the test ends. A missing stack skips the test (fails it
// under CI=true), as internal/testenv does.
package kratostest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"passerelle/internal/testenv"
)

// SessionCookie is the name of Kratos' browser session cookie.
const SessionCookie = "ory_kratos_session"

// PublicURL returns the stack's Kratos public URL.
func PublicURL(t testing.TB) string {
	t.Helper()
	return strings.TrimRight(testenv.Get(t, "KRATOS_PUBLIC_URL"), "/")
}

// AdminURL returns the stack's Kratos admin URL.
func AdminURL(t testing.TB) string {
	t.Helper()
	return strings.TrimRight(testenv.Get(t, "KRATOS_ADMIN_URL"), "/")
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

// Options describe an identity to create.
type Options struct {
	// Email defaults to a unique test-<random>@example.test.
	Email string
	// First and Last are the name traits (defaults "Client" and "Test").
	First, Last string
	// Password defaults to a random one.
	Password string
	// MetadataPublic is written as metadata_public when not nil, such as
	// {"role":"tenant","lots":["A12"]}.
	MetadataPublic map[string]any
	// Inactive creates the identity deactivated.
	Inactive bool
	// Verified imports the e-mail as a verified address, as Kratos marks it
	// once the client completed the agency's invitation (a recovery code
	// sent to that address). Without it the address stays unverified.
	Verified bool
}

// Identity is a created identity and its password.
type Identity struct {
	ID, Email, Password string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UniqueEmail returns an address no other test uses.
func UniqueEmail() string { return "test-" + randomHex(6) + "@example.test" }

// NewIdentity creates an identity through the admin API (with its password
// credential and metadata_public) and deletes it when the test ends.
func NewIdentity(t testing.TB, o Options) Identity {
	t.Helper()
	admin := AdminURL(t)
	if o.Email == "" {
		o.Email = UniqueEmail()
	}
	if o.First == "" && o.Last == "" {
		o.First, o.Last = "Client", "Test"
	}
	if o.Password == "" {
		o.Password = "pw-" + randomHex(12)
	}
	body := map[string]any{
		"schema_id": "client",
		"traits": map[string]any{
			"email": o.Email,
			"name":  map[string]any{"first": o.First, "last": o.Last},
		},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": o.Password}}},
	}
	if o.MetadataPublic != nil {
		body["metadata_public"] = o.MetadataPublic
	}
	if o.Inactive {
		body["state"] = "inactive"
	}
	if o.Verified {
		body["verifiable_addresses"] = []map[string]any{{"value": o.Email, "via": "email", "verified": true, "status": "completed"}}
	}
	var created struct {
		ID string `json:"id"`
	}
	if status, raw := call(t, http.MethodPost, admin+"/admin/identities", body, &created, nil); status != http.StatusCreated {
		t.Fatalf("kratostest: creating identity: %d %s", status, raw)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, admin+"/admin/identities/"+created.ID, nil)
		if resp, err := httpClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return Identity{ID: created.ID, Email: o.Email, Password: o.Password}
}

// Login logs in through Kratos' API flow (GET /self-service/login/api, then
// POST /self-service/login?flow=ID with the password method) and returns the
// session token, for the X-Session-Token header.
func Login(t testing.TB, email, password string) string {
	t.Helper()
	public := PublicURL(t)
	var flow struct {
		ID string `json:"id"`
	}
	if status, raw := call(t, http.MethodGet, public+"/self-service/login/api", nil, &flow, nil); status != http.StatusOK {
		t.Fatalf("kratostest: creating login flow: %d %s", status, raw)
	}
	var res struct {
		SessionToken string `json:"session_token"`
	}
	status, raw := call(t, http.MethodPost, public+"/self-service/login?flow="+url.QueryEscape(flow.ID),
		map[string]any{"method": "password", "identifier": email, "password": password}, &res, nil)
	if status != http.StatusOK || res.SessionToken == "" {
		t.Fatalf("kratostest: logging in %s: %d %s", email, status, raw)
	}
	return res.SessionToken
}

// LoginBrowser logs in through Kratos' browser flow (BrowserSession) and
// returns the ory_kratos_session cookie a browser would get.
func LoginBrowser(t testing.TB, email, password string) *http.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ck, err := BrowserSession(ctx, PublicURL(t), email, password)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// NewClient creates a client identity with metadata_public
// {"role": role, "lots": lots, "mandates": mandates} and a verified e-mail
// (an invited client who completed the invitation), logs it in and returns
// its Kratos id, its e-mail and a session token.
func NewClient(t testing.TB, role string, lots, mandates []string) (identityID, email, sessionToken string) {
	t.Helper()
	if lots == nil {
		lots = []string{}
	}
	if mandates == nil {
		mandates = []string{}
	}
	id := NewIdentity(t, Options{Verified: true, MetadataPublic: map[string]any{"role": role, "lots": lots, "mandates": mandates}})
	return id.ID, id.Email, Login(t, id.Email, id.Password)
}

// SetMetadataPublic replaces an identity's metadata_public (admin API PATCH).
func SetMetadataPublic(t testing.TB, identityID string, md map[string]any) {
	t.Helper()
	patch := []map[string]any{{"op": "replace", "path": "/metadata_public", "value": md}}
	if status, raw := call(t, http.MethodPatch, AdminURL(t)+"/admin/identities/"+identityID, patch, nil, nil); status != http.StatusOK {
		t.Fatalf("kratostest: patching identity: %d %s", status, raw)
	}
}

// RevokeSessions deletes every session of an identity (admin API).
func RevokeSessions(t testing.TB, identityID string) {
	t.Helper()
	status, raw := call(t, http.MethodDelete, AdminURL(t)+"/admin/identities/"+identityID+"/sessions", nil, nil, nil)
	if status != http.StatusNoContent && status != http.StatusNotFound {
		t.Fatalf("kratostest: revoking sessions: %d %s", status, raw)
	}
}

// call sends a JSON request and decodes a JSON answer into out (when not nil).
func call(t testing.TB, method, u string, body, out any, c *http.Client) (int, string) {
	t.Helper()
	if c == nil {
		c = httpClient
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("kratostest: %s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("kratostest: %s %s: decoding %s: %v", method, u, raw, err)
		}
	}
	return resp.StatusCode, fmt.Sprintf("%.500s", raw)
}
