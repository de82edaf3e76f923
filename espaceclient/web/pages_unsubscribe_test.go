package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// The one-click unsubscribe address of the mails needs no session and is
// not behind the cross-origin check (mail providers post it from their
// servers): GET shows a button and changes nothing; POST stops the mails;
// an unknown or malformed token is the 404 page.
func TestOneClickUnsubscribe(t *testing.T) {
	s := newSite(t)
	token := strings.Repeat("A", 42) + "Q"
	if _, err := s.pool.Exec(context.Background(),
		`INSERT INTO client_preferences (identity_id, unsubscribe_token) VALUES ('client-1', $1)`, token); err != nil {
		t.Fatal(err)
	}
	mode := func() string {
		var m string
		if err := s.pool.QueryRow(context.Background(), `SELECT email_mode FROM client_preferences WHERE identity_id = 'client-1'`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	anon := s.anonymous(t)
	status, _, body := anon.get("/desabonnement/" + token)
	if status != http.StatusOK || !strings.Contains(body, `id="unsubscribe"`) || mode() != "immediate" {
		t.Fatalf("GET: %d, mode %s\n%s", status, mode(), body)
	}
	status, _, body = anon.do(http.MethodPost, "/desabonnement/"+token, strings.NewReader("List-Unsubscribe=One-Click"),
		"application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site", "Origin", "https://mail.provider.example")
	if status != http.StatusOK || !strings.Contains(body, `id="unsubscribed"`) || mode() != "none" {
		t.Fatalf("one-click POST from a provider: %d, mode %s\n%s", status, mode(), body)
	}
	for _, bad := range []string{strings.Repeat("B", 43), "court", token + "x"} {
		if status, _, _ := anon.do(http.MethodPost, "/desabonnement/"+bad, nil, ""); status != http.StatusNotFound {
			t.Errorf("POST with token %q: %d, want 404", bad, status)
		}
	}
}
