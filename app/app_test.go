package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"passerelle/app"
	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

// The whole daemon embedded as serve runs it (the wiring of production, one
// place): a request filed through the API reaches Redmine, health answers on
// both handlers, /metrics only on the admin one, and a reload is applied only
// when everything built from the configuration builds; /metrics lists every
// metric, and a second app in the process has a registry of its own.
func TestEmbeddedDaemon(t *testing.T) {
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_SYNC_API_KEY")
	t.Setenv("PASSERELLE_REDMINE_API_KEY", env[1])
	cfg, err := config.Load(env[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReferencePrefix = "APP" + strings.ToUpper(fmt.Sprintf("%x", randomBytes(3)))
	pool, _ := testenv.NewPool(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx := context.Background()
	opts := app.Options{Config: cfg, Log: log, Pool: pool, FetchPollInterval: 100 * time.Millisecond}
	a, err := app.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = a.Stop(sctx)
	}()
	public := httptest.NewServer(a.Handler())
	defer public.Close()
	admin := httptest.NewServer(a.AdminHandler())
	defer admin.Close()

	paths := []struct {
		name string
		base string
		path string
		want int
	}{
		{"ready on the public listener", public.URL, "/readyz", 200},
		{"ready on the admin listener", admin.URL, "/readyz", 200},
		{"metrics on the admin listener", admin.URL, "/metrics", 200},
		{"no metrics on the public listener", public.URL, "/metrics", 404},
		{"no API on the admin listener", admin.URL, "/api/v1/me", 404},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			resp, err := http.Get(p.base + p.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != p.want {
				t.Fatalf("GET %s: %d, want %d", p.path, resp.StatusCode, p.want)
			}
		})
	}

	// A request filed through the API reaches Redmine.
	_, _, token := kratostest.NewClient(t, "tenant", []string{"A-1"}, nil)
	body, _ := json.Marshal(map[string]string{"category": "autre", "subject": "Boîte aux lettres cassée", "body": "La porte de ma boîte aux lettres ne ferme plus."})
	var created struct {
		ID        string `json:"id"`
		Reference string `json:"reference"`
	}
	if code := call(t, public.URL, http.MethodPost, "/api/v1/requests", token, body, &created); code != http.StatusCreated {
		t.Fatalf("POST /api/v1/requests: %d", code)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got struct {
			RedmineIssueID *int `json:"redmine_issue_id"`
		}
		if code := call(t, public.URL, http.MethodGet, "/api/v1/requests/"+created.ID, token, nil, &got); code == 200 && got.RedmineIssueID != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not in Redmine after 60 s", created.Reference)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Reload: refused when the mailer cannot build, the current config
	// stays; applied otherwise. Counted on /metrics.
	refused := testutil.ToFloat64(app.ReloadsCounter(t, a, "refused"))
	bad := *cfg
	bad.SMTP.From = "Agence"
	if err := a.Reload(&bad); err == nil || !strings.Contains(err.Error(), "smtp.from") {
		t.Fatalf("Reload(smtp.from Agence) = %v, want refused for smtp.from", err)
	}
	if a.Config() != cfg {
		t.Fatal("a refused configuration was put in force")
	}
	if got := testutil.ToFloat64(app.ReloadsCounter(t, a, "refused")); got != refused+1 {
		t.Errorf("refused reloads counted %v, want %v", got, refused+1)
	}
	good := *cfg
	good.Deadlines.WarnAt = "50%"
	if err := a.Reload(&good); err != nil {
		t.Fatalf("Reload(good): %v", err)
	}
	if a.Config() != &good {
		t.Fatal("a good configuration was not put in force")
	}

	// /metrics lists every metric, from the app's own registry.
	checkMetrics(t, public.URL, admin.URL)
	checkOwnRegistry(t, a, opts)
}

func call(t *testing.T, base, method, path, token string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(kratos.SessionTokenHeader, token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
