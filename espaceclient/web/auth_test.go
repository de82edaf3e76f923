package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/kratos"
)

// fakeFlows stands in for kratos.Flows in handler tests (the interface is the
// pages' own; the real Kratos is covered by kratos/flows_test.go and the
// browser end-to-end journey).
type fakeFlows struct {
	flow      kratos.Flow
	flowErr   error
	flowError kratos.FlowError
	errErr    error
	logoutErr error
	calls     []string
}

const fakeKratos = "http://kratos.test:4433"

func (f *fakeFlows) BrowserURL(kind, returnTo string) string {
	u := fakeKratos + "/self-service/" + kind + "/browser"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	return u
}

func (f *fakeFlows) Flow(_ context.Context, kind, id string, _ *http.Request) (kratos.Flow, error) {
	f.calls = append(f.calls, "flow "+kind+" "+id)
	fl := f.flow
	fl.Kind, fl.ID = kind, id
	return fl, f.flowErr
}

func (f *fakeFlows) FlowError(_ context.Context, id string) (kratos.FlowError, error) {
	f.calls = append(f.calls, "error "+id)
	return f.flowError, f.errErr
}

func (f *fakeFlows) LogoutURL(context.Context, *http.Request) (string, error) {
	f.calls = append(f.calls, "logout")
	return fakeKratos + "/self-service/logout?token=t", f.logoutErr
}

// fakeSessions answers every Check with id or err.
type fakeSessions struct {
	id  espaceclient.Identity
	err error
}

func (s fakeSessions) Check(context.Context, *http.Request) (espaceclient.Identity, error) {
	return s.id, s.err
}

var noSession = fakeSessions{err: kratos.ErrNoSession}

var marie = fakeSessions{id: espaceclient.Identity{ID: "id-1", Email: "marie@example.test", Name: "Marie Curie", Role: config.RoleTenant}}

func newAuthPages(t *testing.T, flows Flows, sessions espaceclient.Sessions) http.Handler {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	mux := http.NewServeMux()
	New(Config{Sessions: sessions, Flows: flows, PublicURL: "http://127.0.0.1:8080/", Log: log}).Register(mux)
	return mux
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

// loginFlow is a login flow as Kratos v1.3.1 sends it (see kratos/flows_test.go).
var loginFlow = kratos.Flow{Action: fakeKratos + "/self-service/login?flow=f1", Method: "POST", State: "choose_method",
	Nodes: []kratos.Node{
		{Group: "default", Type: "input", Name: "csrf_token", InputType: "hidden", Value: "csrf+tok/en==", Required: true},
		{Group: "default", Type: "input", Name: "identifier", InputType: "text", Required: true, Label: kratos.Text{ID: 1070002, Text: "Adresse e-mail"}},
		{Group: "password", Type: "input", Name: "password", InputType: "password", Required: true, Autocomplete: "current-password",
			Label: kratos.Text{ID: 1070001, Text: "Password"}},
		{Group: "password", Type: "input", Name: "method", InputType: "submit", Value: "password", Label: kratos.Text{ID: 1010022, Text: "Sign in with password"}},
	}}

func TestAuthStartsAFlowWithALocalReturnOnly(t *testing.T) {
	tests := []struct {
		name, target, want string
	}{
		{"login, no return", "/connexion", fakeKratos + "/self-service/login/browser"},
		{"login returns to a local page", "/connexion?return_to=" + url.QueryEscape("/demandes/12?x=1"),
			fakeKratos + "/self-service/login/browser?return_to=" + url.QueryEscape("http://127.0.0.1:8080/demandes/12?x=1")},
		{"absolute return dropped", "/connexion?return_to=" + url.QueryEscape("https://evil.example/phish"), fakeKratos + "/self-service/login/browser"},
		{"protocol-relative return dropped", "/connexion?return_to=" + url.QueryEscape("//evil.example/x"), fakeKratos + "/self-service/login/browser"},
		{"backslash return dropped", "/connexion?return_to=" + url.QueryEscape("/\\evil.example"), fakeKratos + "/self-service/login/browser"},
		{"recovery", "/recuperation", fakeKratos + "/self-service/recovery/browser"},
		{"verification", "/verification", fakeKratos + "/self-service/verification/browser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ff := &fakeFlows{}
			w := get(t, newAuthPages(t, ff, noSession), tt.target)
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tt.want {
				t.Fatalf("got %d to %q, want 303 to %q", w.Code, w.Header().Get("Location"), tt.want)
			}
			if len(ff.calls) != 0 {
				t.Fatalf("no flow should be fetched: %v", ff.calls)
			}
		})
	}
}

func TestAuthLoginSignedInGoesToDashboard(t *testing.T) {
	for name, s := range map[string]fakeSessions{"with a role": marie, "without a role": {err: kratos.ErrNoRole}} {
		t.Run(name, func(t *testing.T) {
			w := get(t, newAuthPages(t, &fakeFlows{}, s), "/connexion")
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
				t.Fatalf("got %d to %q, want 303 to /", w.Code, w.Header().Get("Location"))
			}
		})
	}
}

func TestAuthLoginRendersTheFlow(t *testing.T) {
	w := get(t, newAuthPages(t, &fakeFlows{flow: loginFlow}, noSession), "/connexion?flow=f1")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`<form method="POST" action="http://kratos.test:4433/self-service/login?flow=f1" novalidate`,
		`<input type="hidden" name="csrf_token" value="csrf&#43;tok/en==">`,
		`<label for="f-identifier">Adresse e-mail</label>`,
		`<input id="f-identifier" name="identifier" type="email" autocomplete="username"`,
		`<label for="f-password">Mot de passe</label>`,
		`<input id="f-password" name="password" type="password" autocomplete="current-password" required>`,
		`<button type="submit" name="method" value="password">Se connecter</button>`,
		`<a href="/recuperation">Mot de passe oublié ?</a>`,
		`<h1>Connexion</h1>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, `action="/deconnexion"`) {
		t.Error("the sign-in page must not show the signed-in menu")
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' "+fakeKratos+";") {
		t.Errorf("the CSP must let the form post to Kratos: %s", csp)
	}
}

func TestAuthLoginMessagesTranslatedAndEscaped(t *testing.T) {
	fl := loginFlow
	fl.Messages = []kratos.Text{{ID: 4000006, Text: "The provided credentials are invalid", Type: "error"}}
	fl.Nodes = append([]kratos.Node(nil), loginFlow.Nodes...)
	fl.Nodes[1].Value = `marie"><script>alert(1)</script>`
	fl.Nodes[1].Messages = []kratos.Text{{ID: 4999999, Text: `<script>alert("x")</script> is wrong`, Type: "error"}}
	w := get(t, newAuthPages(t, &fakeFlows{flow: fl}, noSession), "/connexion?flow=f1")
	body := w.Body.String()
	for _, want := range []string{
		"Adresse e-mail ou mot de passe incorrect.",
		`<div class="error-summary" role="alert"`,
		`<a href="#f-identifier">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; is wrong</a>`,
		`<p class="field-error" id="f-identifier-error">&lt;script&gt;`,
		`aria-describedby="f-identifier-error" aria-invalid="true"`,
		`value="marie&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("a Kratos text reached the page unescaped")
	}
	if strings.Contains(body, "The provided credentials are invalid") {
		t.Error("4000006 must be shown in French")
	}
}

func TestAuthRecoveryCodeSent(t *testing.T) {
	fl := kratos.Flow{Action: fakeKratos + "/self-service/recovery?flow=r1", Method: "POST", State: "sent_email",
		Messages: []kratos.Text{{ID: 1060003, Text: "An email containing a recovery code has been sent", Type: "info"}},
		Nodes: []kratos.Node{
			{Type: "input", Name: "csrf_token", InputType: "hidden", Value: "c"},
			{Type: "input", Name: "email", InputType: "submit", Value: "marie@example.test", Label: kratos.Text{ID: 1070008, Text: "Resend code"}},
			{Type: "input", Name: "code", InputType: "text", Required: true, Label: kratos.Text{ID: 1070010, Text: "Recovery code"}},
			{Type: "input", Name: "method", InputType: "submit", Value: "code", Label: kratos.Text{ID: 1070009, Text: "Continue"}},
		}}
	body := get(t, newAuthPages(t, &fakeFlows{flow: fl}, noSession), "/recuperation?flow=r1").Body.String()
	main := `<button type="submit" name="method" value="code">Continuer</button>`
	resend := `<button type="submit" name="email" value="marie@example.test" class="secondary">Renvoyer le code</button>`
	for _, want := range []string{`role="status">Si cette adresse est celle de votre compte, un code`, main, resend,
		`<input id="f-code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Index(body, main) > strings.Index(body, resend) {
		t.Error("the main button must come first (Enter submits it, not the resend)")
	}
}

func TestAuthFlowGoneRestarts(t *testing.T) {
	ff := &fakeFlows{flowErr: fmt.Errorf("%w: 410", kratos.ErrFlowGone)}
	w := get(t, newAuthPages(t, ff, noSession), "/connexion?flow=old&return_to=%2Fpreferences")
	want := fakeKratos + "/self-service/login/browser?return_to=" + url.QueryEscape("http://127.0.0.1:8080/preferences")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
		t.Fatalf("got %d to %q, want 303 to %q", w.Code, w.Header().Get("Location"), want)
	}
}

func TestAuthKratosUnavailableIs503(t *testing.T) {
	tests := []struct {
		name, target string
		flows        *fakeFlows
		sessions     fakeSessions
	}{
		{"flow fetch", "/connexion?flow=f1", &fakeFlows{flowErr: fmt.Errorf("%w: connection refused", kratos.ErrUnavailable)}, noSession},
		{"session check on /connexion", "/connexion", &fakeFlows{}, fakeSessions{err: kratos.ErrUnavailable}},
		{"session check on /parametres", "/parametres", &fakeFlows{}, fakeSessions{err: kratos.ErrUnavailable}},
		{"error page", "/erreur?id=e1", &fakeFlows{errErr: kratos.ErrUnavailable}, noSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(t, newAuthPages(t, tt.flows, tt.sessions), tt.target)
			if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "Connexion momentanément indisponible") {
				t.Fatalf("got %d, want the 503 Kratos page: %.300s", w.Code, w.Body.String())
			}
		})
	}
	// No Flows configured at all: the same page, never a panic.
	w := get(t, newAuthPages(t, nil, noSession), "/connexion")
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("without Flows: %d", w.Code)
	}
}

func TestAuthSettings(t *testing.T) {
	settings := kratos.Flow{Action: fakeKratos + "/self-service/settings?flow=s1", Method: "POST", State: "success",
		Messages: []kratos.Text{{ID: 1050001, Text: "Your changes have been saved!", Type: "success"}},
		Nodes: []kratos.Node{
			{Type: "input", Name: "csrf_token", InputType: "hidden", Value: "c"},
			{Type: "input", Group: "password", Name: "password", InputType: "password", Required: true, Autocomplete: "new-password"},
			{Type: "input", Group: "password", Name: "method", InputType: "submit", Value: "password", Label: kratos.Text{ID: 1070003, Text: "Save"}},
		}}
	t.Run("no session: login, back here after", func(t *testing.T) {
		w := get(t, newAuthPages(t, &fakeFlows{flow: settings}, noSession), "/parametres?flow=s1")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/connexion?return_to=%2Fparametres" {
			t.Fatalf("got %d to %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("Kratos says 401: login", func(t *testing.T) {
		w := get(t, newAuthPages(t, &fakeFlows{flowErr: kratos.ErrNoSession}, marie), "/parametres?flow=s1")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/connexion?return_to=%2Fparametres" {
			t.Fatalf("got %d to %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("signed in: the form, the menu, the notice", func(t *testing.T) {
		w := get(t, newAuthPages(t, &fakeFlows{flow: settings}, marie), "/parametres?flow=s1")
		body := w.Body.String()
		for _, want := range []string{`<label for="f-password">Nouveau mot de passe</label>`, `autocomplete="new-password"`,
			`aria-describedby="f-password-hint"`, `>Enregistrer</button>`, `Vos modifications sont enregistrées.`,
			`action="/deconnexion"`, `<a href="/parametres" aria-current="page">`} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %s", want)
			}
		}
	})
}

func TestAuthErrorPage(t *testing.T) {
	ff := &fakeFlows{flowError: kratos.FlowError{ID: "e1", Code: 403, Reason: "<b>csrf</b> violation"}}
	w := get(t, newAuthPages(t, ff, noSession), "/erreur?id=e1")
	body := w.Body.String()
	if w.Code != http.StatusForbidden || !strings.Contains(body, "Pour des raisons de sécurité") ||
		!strings.Contains(body, `href="/connexion"`) || strings.Contains(body, "csrf") {
		t.Fatalf("got %d: %.600s", w.Code, body)
	}
	w = get(t, newAuthPages(t, &fakeFlows{errErr: kratos.ErrFlowGone}, noSession), "/erreur?id=nope")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "Cette erreur n&#39;existe plus") {
		t.Fatalf("unknown error id: %d %.300s", w.Code, w.Body.String())
	}
}

func TestAuthLogout(t *testing.T) {
	post := func(h http.Handler, site string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/deconnexion", nil)
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	t.Run("same origin: to Kratos' logout URL", func(t *testing.T) {
		w := post(newAuthPages(t, &fakeFlows{}, marie), "same-origin")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != fakeKratos+"/self-service/logout?token=t" {
			t.Fatalf("got %d to %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("cross-site: 403, Kratos never asked", func(t *testing.T) {
		ff := &fakeFlows{}
		w := post(newAuthPages(t, ff, marie), "cross-site")
		if w.Code != http.StatusForbidden || w.Header().Get("Location") != "" || len(ff.calls) != 0 {
			t.Fatalf("got %d to %q, calls %v", w.Code, w.Header().Get("Location"), ff.calls)
		}
	})
	t.Run("no session: the login page", func(t *testing.T) {
		w := post(newAuthPages(t, &fakeFlows{logoutErr: kratos.ErrNoSession}, noSession), "same-origin")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/connexion" {
			t.Fatalf("got %d to %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("Kratos down: 503", func(t *testing.T) {
		w := post(newAuthPages(t, &fakeFlows{logoutErr: errors.Join(kratos.ErrUnavailable, errors.New("refused"))}, marie), "")
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("got %d", w.Code)
		}
	})
}

// TestAuthCatalogueKeys: every key the auth pages name outside a cat.T call
// (specs, styles, error texts) is in the catalogue.
func TestAuthCatalogueKeys(t *testing.T) {
	var keys []string
	for _, s := range []flowSpec{loginSpec, recoverySpec, verificationSpec, settingsSpec} {
		keys = append(keys, s.title)
		if s.intro != "" {
			keys = append(keys, s.intro)
		}
		for _, l := range s.links {
			keys = append(keys, l.Text)
		}
	}
	for _, byName := range fieldStyles {
		for _, st := range byName {
			keys = append(keys, st.label)
			if st.hint != "" {
				keys = append(keys, st.hint)
			}
		}
	}
	keys = append(keys, "auth.back_to_login", "auth.back_to_dashboard", "auth.error.generic", "auth.error.unknown",
		"auth.error.forbidden", "auth.error.expired", "auth.error.server")
	for _, k := range keys {
		if _, ok := French[k]; !ok {
			t.Errorf("key %q missing from the French catalogue", k)
		}
	}
}
