package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// whoami answers Kratos' GET /sessions/whoami for a session token.
func whoami(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, kratostest.PublicURL(t)+"/sessions/whoami", nil)
	req.Header.Set("X-Session-Token", token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// passerelle identities deactivate/activate on the stack's Kratos: an old
// session never comes back.
func TestIdentitiesDeactivateCommand(t *testing.T) {
	cfg, env := stackEnv(t)
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"A12"}}})
	tok := kratostest.Login(t, who.Email, who.Password)

	code, out := runBin(t, env, "identities", "deactivate", who.Email, "--config", cfg)
	if code != 0 || !strings.Contains(out, who.ID+" <"+who.Email+">: active -> inactive, every session revoked") {
		t.Fatalf("deactivate: exit %d\n%s", code, out)
	}
	code, out = runBin(t, env, "identities", "activate", "--config", cfg, "--id", who.ID)
	if code != 0 || !strings.Contains(out, "inactive -> active, no session to revoke") {
		t.Fatalf("activate: exit %d\n%s", code, out)
	}
	if st := whoami(t, tok); st != http.StatusUnauthorized {
		t.Fatalf("old session after re-activation: whoami %d, want 401", st)
	}
	if st := whoami(t, kratostest.Login(t, who.Email, who.Password)); st != http.StatusOK {
		t.Fatalf("new login: whoami %d", st)
	}
	for name, args := range map[string][]string{
		"unknown e-mail": {"identities", "deactivate", "--config", cfg, kratostest.UniqueEmail()},
		"no identity":    {"identities", "deactivate", "--config", cfg},
		"unknown action": {"identities", "delete", who.ID},
	} {
		if code, out := runBin(t, env, args...); code == 0 {
			t.Errorf("%s: exit 0\n%s", name, out)
		}
	}
}
