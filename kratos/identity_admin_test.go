package kratos

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"passerelle/kratos/kratostest"
)

// meStatus checks a session token as GET /api/v1/me does (Sessions.Check)
// and answers the status the customer space's API gives it: 200 for a
// session of identity id, 401 ErrNoSession, 403 ErrNoRole, 503 ErrUnavailable.
func meStatus(t *testing.T, id, token string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
	r.Header.Set(SessionTokenHeader, token)
	got, err := NewSessions(kratostest.PublicURL(t), nil).Check(context.Background(), r)
	switch {
	case err == nil && got.ID == id:
		return http.StatusOK, got.ID
	case err == nil:
		return http.StatusInternalServerError, "session of another identity: " + got.ID
	case errors.Is(err, ErrNoSession):
		return http.StatusUnauthorized, err.Error()
	case errors.Is(err, ErrNoRole):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// Deactivating an identity deletes its sessions: once re-activated, its old
// session tokens stay refused (Kratos keeps an inactive identity's sessions
// and honours them again on re-activation unless they are deleted).
func TestDeactivateRevokesEverySession(t *testing.T) {
	ctx := context.Background()
	dir := NewDirectory(kratostest.AdminURL(t), nil)
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"A12"}}})
	phone := kratostest.Login(t, who.Email, who.Password)
	laptop := kratostest.Login(t, who.Email, who.Password)
	for _, tok := range []string{phone, laptop} {
		if st, body := meStatus(t, who.ID, tok); st != http.StatusOK {
			t.Fatalf("before: %d %s", st, body)
		}
	}

	ch, err := dir.Deactivate(ctx, strings.ToUpper(who.Email))
	if err != nil {
		t.Fatal(err)
	}
	if ch.ID != who.ID || ch.PreviousState != "active" || ch.State != "inactive" || !ch.SessionsRevoked {
		t.Fatalf("deactivate: %+v", ch)
	}
	if st, body := meStatus(t, who.ID, phone); st != http.StatusUnauthorized {
		t.Fatalf("inactive: %d %s, want 401", st, body)
	}

	ch, err = dir.Activate(ctx, who.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ch.PreviousState != "inactive" || ch.State != "active" || ch.SessionsRevoked {
		t.Fatalf("activate: %+v (no session should be left to revoke)", ch)
	}
	for name, tok := range map[string]string{"phone": phone, "laptop": laptop} {
		if st, body := meStatus(t, who.ID, tok); st != http.StatusUnauthorized {
			t.Errorf("re-activated identity, old %s session: %d %s, want 401", name, st, body)
		}
	}
	fresh := kratostest.Login(t, who.Email, who.Password)
	if st, body := meStatus(t, who.ID, fresh); st != http.StatusOK {
		t.Fatalf("re-activated identity, new login: %d %s", st, body)
	}

	// Again on an inactive identity: still inactive, its sessions deleted.
	if _, err := dir.Deactivate(ctx, who.ID); err != nil {
		t.Fatal(err)
	}
	if ch, err := dir.Deactivate(ctx, who.ID); err != nil || ch.PreviousState != "inactive" || ch.State != "inactive" {
		t.Fatalf("second deactivate: %+v %v", ch, err)
	}
	if _, err := dir.Deactivate(ctx, kratostest.UniqueEmail()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown e-mail: %v", err)
	}
	if _, err := dir.Deactivate(ctx, "Jean Dupont"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("neither id nor e-mail: %v", err)
	}
}

// Kratos' revoke_active_sessions hook after a password change
// (deploy/kratos/kratos.yml selfservice.flows.settings.after.password): the
// identity's other sessions are refused, the one that changed it goes on.
func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "owner", "lots": []string{"L1"}}})
	mine := kratostest.Login(t, who.Email, who.Password)
	stolen := kratostest.Login(t, who.Email, who.Password)
	if st, body := meStatus(t, who.ID, stolen); st != http.StatusOK {
		t.Fatalf("before: %d %s", st, body)
	}
	st, raw := kratostest.UpdateSettings(t, mine, map[string]any{"method": "password", "password": "nouveau-" + who.Password})
	if st != http.StatusOK {
		t.Fatalf("password change: %d %s", st, raw)
	}
	if st, body := meStatus(t, who.ID, stolen); st != http.StatusUnauthorized {
		t.Errorf("other session after the password change: %d %s, want 401", st, body)
	}
	if st, body := meStatus(t, who.ID, mine); st != http.StatusOK {
		t.Errorf("the session that changed the password: %d %s, want 200", st, body)
	}
}

// Kratos' revoke_active_sessions hook after recovery
// (selfservice.flows.recovery.after.hooks): whoever recovers the account ends
// every other session.
func TestRecoveryRevokesOtherSessions(t *testing.T) {
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"A12"}}})
	stolen := kratostest.Login(t, who.Email, who.Password)
	if st, body := meStatus(t, who.ID, stolen); st != http.StatusOK {
		t.Fatalf("before: %d %s", st, body)
	}
	kratostest.Recover(t, who.ID)
	if st, body := meStatus(t, who.ID, stolen); st != http.StatusUnauthorized {
		t.Fatalf("session from before the recovery: %d %s, want 401", st, body)
	}
}

// The login e-mail (and every trait) is out of the client's reach: Kratos'
// settings "profile" method is off (deploy/kratos/kratos.yml), so a settings
// flow that changes traits is refused and the identity keeps the e-mail the
// agency set, which stays its login.
func TestLoginEmailNotEditableBySelfService(t *testing.T) {
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"A12"}}})
	tok := kratostest.Login(t, who.Email, who.Password)
	forged := kratostest.UniqueEmail()
	st, raw := kratostest.UpdateSettings(t, tok, map[string]any{"method": "profile",
		"traits": map[string]any{"email": forged, "name": map[string]any{"first": "Client", "last": "Test"}}})
	if st == http.StatusOK {
		t.Errorf("settings flow changing the e-mail answered 200: %s", raw)
	}
	if got := kratostest.Traits(t, who.ID)["email"]; got != who.Email {
		t.Fatalf("traits.email is now %v, want %s (set by the agency)", got, who.Email)
	}
	dir := NewDirectory(kratostest.AdminURL(t), nil)
	if _, err := dir.ByEmail(context.Background(), forged); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the forged address finds an identity: %v", err)
	}
	kratostest.Login(t, who.Email, who.Password)
}
