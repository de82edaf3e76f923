package espaceclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

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
		{"valid token, malformed cookie", c.token, &http.Cookie{Name: kratos.SessionCookie, Value: "garbage"}, http.StatusOK},
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

// failingSessions is a Sessions whose Check always fails with err.
type failingSessions struct{ err error }

func (f failingSessions) Check(context.Context, *http.Request) (Identity, error) {
	return Identity{}, f.err
}

// The JSON API answers the typed errors of package kratos as 401
// unauthenticated, 403 no_role and 503 session_unavailable (with
// Retry-After), bare or wrapping a cause.
func TestSessionErrorsAnswers(t *testing.T) {
	cause := errors.New("connection refused")
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{kratos.ErrNoSession, http.StatusUnauthorized, "unauthenticated"},
		{fmt.Errorf("%w: %w", kratos.ErrNoSession, cause), http.StatusUnauthorized, "unauthenticated"},
		{kratos.ErrNoRole, http.StatusForbidden, "no_role"},
		{kratos.ErrUnavailable, http.StatusServiceUnavailable, "session_unavailable"},
		{fmt.Errorf("%w: %w", kratos.ErrUnavailable, cause), http.StatusServiceUnavailable, "session_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			log := logrus.New()
			log.SetOutput(io.Discard)
			mux := http.NewServeMux()
			NewAPI(nil, failingSessions{tt.err}, log).Register(mux)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/me", nil))
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != tt.status || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.code)
			}
			if got := rec.Header().Get("Retry-After"); (tt.status == http.StatusServiceUnavailable) != (got != "") {
				t.Fatalf("Retry-After %q on a %d", got, rec.Code)
			}
		})
	}
}
