package espaceclient

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	ory "github.com/ory/kratos-client-go"

	"passerelle/config"
	"passerelle/espaceclient/kratostest"
)

func TestSessionCredentials(t *testing.T) {
	tests := []struct {
		name          string
		cookie, token string
		wantCookie    string
		wantToken     string
	}{
		{"nothing", "", "", "", ""},
		{"only the kratos cookie is forwarded", "_ga=GA1.1; ory_kratos_session=MTY5abc-_=; other=secret", "",
			"ory_kratos_session=MTY5abc-_=", ""},
		{"no kratos cookie", "_ga=GA1.1; other=secret", "", "", ""},
		{"token header", "", " ory_st_abc ", "", "ory_st_abc"},
		{"both: only the token is sent", "ory_kratos_session=v", "t", "", "t"},
		{"blank token: the cookie is sent", "ory_kratos_session=v", "  ", "ory_kratos_session=v", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/me", nil)
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			if tt.token != "" {
				r.Header.Set(SessionTokenHeader, tt.token)
			}
			c, tok := sessionCredentials(r)
			if c != tt.wantCookie || tok != tt.wantToken {
				t.Fatalf("got (%q, %q), want (%q, %q)", c, tok, tt.wantCookie, tt.wantToken)
			}
		})
	}
}

func TestIdentityFromKratos(t *testing.T) {
	const uid = "0b8f1f63-2b7e-4a52-9a0e-4b6b8f9b8c11"
	traits := map[string]any{"email": "marie@example.test", "name": map[string]any{"first": "Marie", "last": "Curie"}}
	tests := []struct {
		name     string
		traits   any
		metadata string // JSON, "" = absent
		want     Identity
		wantErr  string // error code
	}{
		{"tenant", traits, `{"role":"tenant","lots":["A12"]}`,
			Identity{ID: uid, Email: "marie@example.test", Name: "Marie Curie", Role: config.RoleTenant, Lots: []string{"A12"}, Mandates: []string{}}, ""},
		{"owner with numbers as lots", traits, `{"role":"owner","lots":[12,"B3","B3",""],"mandates":["M-1"]}`,
			Identity{ID: uid, Email: "marie@example.test", Name: "Marie Curie", Role: config.RoleOwner, Lots: []string{"12", "B3"}, Mandates: []string{"M-1"}}, ""},
		{"no metadata", traits, "", Identity{}, "no_role"},
		{"unknown role", traits, `{"role":"admin"}`, Identity{}, "no_role"},
		{"role in traits is ignored", map[string]any{"email": "x@example.test", "role": "owner", "lots": []string{"A1"}}, `{}`, Identity{}, "no_role"},
		{"malformed lots", traits, `{"role":"tenant","lots":"A12"}`, Identity{}, "no_role"},
		{"no name", map[string]any{"email": "x@example.test"}, `{"role":"tenant"}`,
			Identity{ID: uid, Email: "x@example.test", Role: config.RoleTenant, Lots: []string{}, Mandates: []string{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ki := &ory.Identity{Id: uid, Traits: tt.traits}
			if tt.metadata != "" {
				var md any
				if err := json.Unmarshal([]byte(tt.metadata), &md); err != nil {
					t.Fatal(err)
				}
				ki.MetadataPublic = md
			}
			got, err := identityFromKratos(ki)
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.wantErr || e.Status != 403 {
					t.Fatalf("got %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// A valid token next to a stale or malformed session cookie is accepted
// (only the token is sent to Kratos); a refused credential is a 401 logged
// as a warning, never at error level.
func TestTokenWinsOverStaleCookie(t *testing.T) {
	e := newEnv(t)
	c := e.newClient("tenant", []string{"A12"}, nil)
	other := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant", "lots": []string{"B1"}}})
	stale := kratostest.LoginBrowser(t, other.Email, other.Password)
	kratostest.RevokeSessions(t, other.ID)
	tests := []struct {
		name   string
		token  string
		cookie *http.Cookie
		want   int
	}{
		{"valid token, malformed cookie", c.token, &http.Cookie{Name: SessionCookie, Value: "garbage"}, http.StatusOK},
		{"valid token, revoked cookie of another identity", c.token, stale, http.StatusOK},
		{"malformed token alone", "garbage", nil, http.StatusUnauthorized},
		{"revoked cookie alone", "", stale, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := &client{e: e, id: c.id, token: tt.token, cookie: tt.cookie}
			res := cl.get("/api/v1/me")
			if res.status != tt.want {
				t.Fatalf("GET /api/v1/me: %d %s, want %d", res.status, res.body, tt.want)
			}
			if tt.want == http.StatusOK && str(t, res.json(t), "id") != c.id {
				t.Fatalf("answered for another identity: %s", res.body)
			}
		})
	}
	logs := e.logs.String()
	if strings.Contains(logs, `"level":"error"`) {
		t.Fatalf("error-level log lines:\n%s", logs)
	}
	if !strings.Contains(logs, `"level":"warning"`) || !strings.Contains(logs, `"msg":"api call unauthenticated"`) {
		t.Fatalf("no warning for the refused credentials:\n%s", logs)
	}
}
