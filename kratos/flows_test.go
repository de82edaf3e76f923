package kratos

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// browser is a cookie-keeping client that does not follow redirects, as a
// browser would be seen by Kratos.
type browser struct {
	t      *testing.T
	public *url.URL
	jar    *cookiejar.Jar
	c      *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	u, err := url.Parse(kratostest.PublicURL(t))
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, public: u, jar: jar, c: &http.Client{Timeout: 20 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// start opens /self-service/<kind>/browser as a page would (Accept:
// text/html) and returns the flow id of Kratos' redirect to the ui_url.
func (b *browser) start(kind string) string {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.public.String()+"/self-service/"+kind+"/browser", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("starting %s flow: %v", kind, err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("flow") == "" {
		b.t.Fatalf("starting %s flow: %s to %q", kind, resp.Status, resp.Header.Get("Location"))
	}
	return loc.Query().Get("flow")
}

// pageRequest is the request the customer space's page receives: the
// browser's cookies for Kratos' host (cookies ignore ports) plus one of its
// own, which must never reach Kratos.
func (b *browser) pageRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/connexion", nil)
	r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
	for _, c := range b.jar.Cookies(b.public) {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func nodeNamed(fl Flow, name string) (Node, bool) {
	for _, n := range fl.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

func TestFlowsLoginAgainstKratos(t *testing.T) {
	b := newBrowser(t)
	flows := NewFlows(b.public.String(), nil)
	ctx := context.Background()
	id := b.start(FlowLogin)

	fl, err := flows.Flow(ctx, FlowLogin, id, b.pageRequest())
	if err != nil {
		t.Fatalf("fetching the login flow: %v", err)
	}
	if fl.ID != id || fl.Kind != FlowLogin || fl.Method != "POST" || !strings.HasPrefix(fl.Action, b.public.String()+"/self-service/login?flow="+id) {
		t.Fatalf("flow = %+v", fl)
	}
	if n, ok := nodeNamed(fl, "csrf_token"); !ok || n.InputType != "hidden" || n.Value == "" {
		t.Errorf("csrf_token = %+v", n)
	}
	if n, ok := nodeNamed(fl, "identifier"); !ok || n.InputType != "text" || !n.Required || n.Label.ID == 0 {
		t.Errorf("identifier = %+v", n)
	}
	if n, ok := nodeNamed(fl, "password"); !ok || n.InputType != "password" || n.Autocomplete != "current-password" || n.Label.ID != 1070001 {
		t.Errorf("password = %+v", n)
	}
	if n, ok := nodeNamed(fl, "method"); !ok || n.InputType != "submit" || n.Value != "password" {
		t.Errorf("method = %+v", n)
	}

	t.Run("without the CSRF cookie the flow is gone (restart)", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/connexion", nil)
		if _, err := flows.Flow(ctx, FlowLogin, id, r); !errors.Is(err, ErrFlowGone) {
			t.Fatalf("got %v, want ErrFlowGone", err)
		}
	})
	t.Run("unknown and malformed ids are gone", func(t *testing.T) {
		for _, bad := range []string{"6a6b9f0e-4c39-4b5e-9a55-0d1b0c7e8f00", "not-a-uuid"} {
			if _, err := flows.Flow(ctx, FlowLogin, bad, b.pageRequest()); !errors.Is(err, ErrFlowGone) {
				t.Errorf("%s: got %v, want ErrFlowGone", bad, err)
			}
		}
	})
}

func TestFlowsRecoveryAndVerificationAgainstKratos(t *testing.T) {
	for _, kind := range []string{FlowRecovery, FlowVerification} {
		t.Run(kind, func(t *testing.T) {
			b := newBrowser(t)
			fl, err := NewFlows(b.public.String(), nil).Flow(context.Background(), kind, b.start(kind), b.pageRequest())
			if err != nil {
				t.Fatal(err)
			}
			if fl.State != "choose_method" {
				t.Errorf("state = %q", fl.State)
			}
			if n, ok := nodeNamed(fl, "email"); !ok || n.InputType != "email" || n.Group != "code" {
				t.Errorf("email = %+v", n)
			}
			if n, ok := nodeNamed(fl, "method"); !ok || n.InputType != "submit" || n.Value != "code" {
				t.Errorf("method = %+v", n)
			}
		})
	}
}

func TestFlowsSettingsAndLogoutAgainstKratos(t *testing.T) {
	who := kratostest.NewIdentity(t, kratostest.Options{MetadataPublic: map[string]any{"role": "tenant"}})
	session := kratostest.LoginBrowser(t, who.Email, who.Password)
	b := newBrowser(t)
	b.jar.SetCookies(b.public, []*http.Cookie{{Name: session.Name, Value: session.Value, Path: "/"}})
	flows := NewFlows(b.public.String(), nil)
	ctx := context.Background()

	id := b.start(FlowSettings)
	fl, err := flows.Flow(ctx, FlowSettings, id, b.pageRequest())
	if err != nil {
		t.Fatalf("fetching the settings flow: %v", err)
	}
	if n, ok := nodeNamed(fl, "password"); !ok || n.InputType != "password" {
		t.Errorf("password = %+v", n)
	}
	for _, n := range fl.Nodes {
		if n.Group == "profile" {
			t.Errorf("the profile method is off in kratos.yml, yet %q shows", n.Name)
		}
	}

	t.Run("without the session: ErrNoSession (to the login page)", func(t *testing.T) {
		r := b.pageRequest()
		var kept []string
		for _, c := range r.Cookies() {
			if c.Name != SessionCookie {
				kept = append(kept, c.String())
			}
		}
		r.Header.Set("Cookie", strings.Join(kept, "; "))
		if _, err := flows.Flow(ctx, FlowSettings, id, r); !errors.Is(err, ErrNoSession) {
			t.Fatalf("got %v, want ErrNoSession", err)
		}
	})

	t.Run("logout URL", func(t *testing.T) {
		u, err := flows.LogoutURL(ctx, b.pageRequest())
		if err != nil || !strings.HasPrefix(u, b.public.String()+"/self-service/logout?token=") {
			t.Fatalf("got %q, %v", u, err)
		}
		if _, err := flows.LogoutURL(ctx, httptest.NewRequest(http.MethodPost, "/deconnexion", nil)); !errors.Is(err, ErrNoSession) {
			t.Fatalf("without a session: %v", err)
		}
	})
}

func TestFlowErrorAgainstKratos(t *testing.T) {
	flows := NewFlows(kratostest.PublicURL(t), nil)
	fe, err := flows.FlowError(context.Background(), "stub:500")
	if err != nil || fe.Code != 500 || fe.Reason == "" {
		t.Fatalf("stub error: %+v, %v", fe, err)
	}
	if _, err := flows.FlowError(context.Background(), "6a6b9f0e-4c39-4b5e-9a55-0d1b0c7e8f00"); !errors.Is(err, ErrFlowGone) {
		t.Fatalf("unknown error id: %v", err)
	}
}
