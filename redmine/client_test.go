package redmine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The API key must never travel in a URL (access logs keep URLs), even for
// the go-redmine calls that append ?key=; writes must carry X-Skip-Webhooks.
// The server here only records what arrives: it is the transport under test,
// not Redmine.
func TestKeyOnlyInHeaderAndSkipWebhooksOnWrites(t *testing.T) {
	type seen struct{ method, uri, key, skip string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, r.Header.Get("X-Redmine-API-Key"), r.Header.Get("X-Skip-Webhooks")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/issue_statuses"):
			_, _ = w.Write([]byte(`{"issue_statuses":[{"id":1,"name":"New","is_closed":false}]}`))
		case strings.HasPrefix(r.URL.Path, "/enumerations"):
			_, _ = w.Write([]byte(`{"issue_priorities":[{"id":2,"name":"Normal"}]}`))
		case r.Method == "POST" && r.URL.Path == "/uploads.json":
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"upload":{"token":"7.abc"}}`))
		case r.Method == "PUT":
			w.WriteHeader(204)
		default:
			_, _ = w.Write([]byte(`{"issues":[],"total_count":0}`))
		}
	}))
	defer srv.Close()
	c := New(Config{URL: srv.URL, APIKey: "SECRET-KEY"})
	ctx := context.Background()
	if _, err := c.Statuses(ctx); err != nil { // go-redmine: puts ?key= in the URL
		t.Fatal(err)
	}
	if _, err := c.Priorities(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListIssues(ctx, IssueQuery{CustomFields: map[int]string{1: "*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(ctx, "photo.jpg", []byte{0xff, 0xd8, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateIssue(ctx, 3, IssueUpdate{Notes: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("requests = %d", len(got))
	}
	for _, s := range got {
		if strings.Contains(s.uri, "SECRET-KEY") || strings.Contains(s.uri, "key=") {
			t.Errorf("%s %s: key in the URL", s.method, s.uri)
		}
		if s.key != "SECRET-KEY" {
			t.Errorf("%s %s: header key = %q", s.method, s.uri, s.key)
		}
		write := s.method != "GET"
		if write != (s.skip == "1") {
			t.Errorf("%s %s: X-Skip-Webhooks = %q", s.method, s.uri, s.skip)
		}
	}
}

func TestAPIErrorsArePermanentOrNot(t *testing.T) {
	cases := []struct {
		status    int
		permanent bool
	}{{422, true}, {403, true}, {404, true}, {500, false}, {502, false}, {503, false}, {429, false}, {408, false}}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(`{"errors":["Tracker is not included in the list"]}`))
		}))
		_, err := New(Config{URL: srv.URL, APIKey: "k"}).CreateIssue(context.Background(), IssueCreate{Subject: "x"})
		srv.Close()
		if err == nil || IsPermanent(err) != c.permanent {
			t.Errorf("HTTP %d: err = %v, permanent = %v, want %v", c.status, err, IsPermanent(err), c.permanent)
		}
		if c.status == 422 && !strings.Contains(err.Error(), "Tracker is not included") {
			t.Errorf("Redmine's message lost: %v", err)
		}
	}
	// Connection refused is not permanent either.
	_, err := New(Config{URL: "http://127.0.0.1:1", APIKey: "k"}).CreateIssue(context.Background(), IssueCreate{})
	if err == nil || IsPermanent(err) {
		t.Errorf("connection refused: %v, permanent %v", err, IsPermanent(err))
	}
}

// The API key goes only to Redmine's own scheme, host and port: a redirect
// elsewhere is followed without it. The first server stands in for Redmine
// answering a redirect, the others for hosts that must not see the key.
func TestKeyNotSentOnRedirectToAnotherOrigin(t *testing.T) {
	type seen struct{ path, key, skip string }
	var mu sync.Mutex
	var foreign []seen
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		foreign = append(foreign, seen{r.URL.Path, r.Header.Get("X-Redmine-API-Key"), r.Header.Get("X-Skip-Webhooks")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issues":[],"total_count":0}`))
	})
	other := httptest.NewServer(record)
	defer other.Close()
	otherTLS := httptest.NewTLSServer(record)
	defer otherTLS.Close()
	var ownKeys []string
	var target string
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ownKeys = append(ownKeys, r.Header.Get("X-Redmine-API-Key"))
		mu.Unlock()
		if r.URL.Path == "/issues.json" {
			http.Redirect(w, r, target+"/stolen", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issues":[],"total_count":0}`))
	}))
	defer own.Close()
	ownPort := own.URL[strings.LastIndex(own.URL, ":")+1:]
	cases := []struct {
		name, target string
		transport    http.RoundTripper
	}{
		{"another host and port", other.URL, nil},
		{"same host, another scheme", otherTLS.URL, otherTLS.Client().Transport},
		{"same address under another name", "http://localhost:" + ownPort, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			foreign, ownKeys, target = nil, nil, c.target
			mu.Unlock()
			cl := New(Config{URL: own.URL, APIKey: "SECRET-KEY", Transport: c.transport})
			_, _ = cl.ListIssues(context.Background(), IssueQuery{CustomFields: map[int]string{1: "*"}})
			mu.Lock()
			defer mu.Unlock()
			if len(ownKeys) == 0 || ownKeys[0] != "SECRET-KEY" {
				t.Fatalf("Redmine itself got key %q", ownKeys)
			}
			hops := foreign
			if c.name == "same address under another name" {
				// localhost:port is the same server: it recorded the hop itself.
				hops = nil
				for _, k := range ownKeys[1:] {
					hops = append(hops, seen{key: k})
				}
			}
			if len(hops) == 0 {
				t.Fatalf("the redirect was not followed")
			}
			for _, h := range hops {
				if h.key != "" || h.skip != "" {
					t.Errorf("redirect target got X-Redmine-API-Key %q, X-Skip-Webhooks %q", h.key, h.skip)
				}
			}
		})
	}
}
