package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"passerelle/espaceclient"
	"passerelle/internal/httpx"
	"passerelle/kratos"
)

// The Kratos self-service pages (auth_*.go, mounted in routes.go). Kratos'
// ui_urls (deploy/kratos/kratos.yml) point at the GET pages; their forms
// post to Kratos itself (the Content-Security-Policy's form-action allows
// Kratos' browser origin, see render.go), which answers with a redirect
// back here.

// publicFunc is a page that needs no session (or checks it itself). It
// writes its answer, or returns the error to show as a page.
type publicFunc func(w http.ResponseWriter, r *http.Request) error

// public runs h, turns its error into an error page (Kratos unreachable:
// the "connexion momentanément indisponible" page, 503) and logs the call.
// Without Flows (a configuration error) every page is that 503 page.
func (p *Pages) public(action string, h publicFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpx.StatusWriter{ResponseWriter: w}
		var err error
		if p.flows == nil {
			err = kratos.ErrUnavailable
		} else {
			err = h(sw, r)
		}
		if err != nil && sw.Status == 0 {
			p.errorPage(sw, r, nil, err)
		}
		p.access(r, action, "", sw.Status, err, start)
	})
}

// flowSpec describes one self-service page.
type flowSpec struct {
	kind  string // kratos.FlowLogin…
	path  string // this page's path
	title string // catalogue key of the title
	intro string // catalogue key of the introduction ("" for none)
	nav   string // active menu entry (signed in)
	links []authLink
}

// authLink is a link under a flow's form.
type authLink struct{ Href, Text string }

// flowData is what templates/auth_flow.html receives.
type flowData struct {
	Intro string
	Infos []string
	Form  authForm
	Links []authLink
}

// serveFlow renders the flow of r's ?flow= (with ident for the menu, nil on
// the sign-in pages), or starts a new one at Kratos when there is none or it
// is gone. Kratos unreachable is returned (the 503 page).
func (p *Pages) serveFlow(w http.ResponseWriter, r *http.Request, spec flowSpec, ident *espaceclient.Identity) error {
	q := r.URL.Query()
	id := q.Get("flow")
	if id == "" {
		p.startFlow(w, r, spec.kind, localPath(q.Get("return_to")))
		return nil
	}
	fl, err := p.flows.Flow(r.Context(), spec.kind, id, r)
	switch {
	case errors.Is(err, kratos.ErrFlowGone):
		// Expired, already used, unknown, or a CSRF cookie that does not
		// match: a new flow (Kratos sets a new CSRF cookie).
		p.startFlow(w, r, spec.kind, localPath(q.Get("return_to")))
		return nil
	case errors.Is(err, kratos.ErrNoSession):
		// A settings flow without a session: sign in, then come back.
		toLoginReturning(w, r, spec.path)
		return nil
	case err != nil:
		return err
	}
	form, errs := buildForm(p.cat, fl)
	data := flowData{Form: form, Links: spec.links}
	if spec.intro != "" {
		data.Intro = p.cat.T(spec.intro)
	}
	data.Infos = flowInfos(p.cat, fl)
	pg := page{Title: p.cat.T(spec.title), Identity: ident, Nav: spec.nav, Errors: errs, Data: data}
	p.render(w, http.StatusOK, "auth_flow", pg)
	return nil
}

// startFlow sends the browser to Kratos to create a flow of kind, to come
// back to back (a local path, "" for Kratos' default) once it is done.
func (p *Pages) startFlow(w http.ResponseWriter, r *http.Request, kind, back string) {
	returnTo := ""
	if back != "" {
		returnTo = p.absolute(back)
	}
	http.Redirect(w, r, p.flows.BrowserURL(kind, returnTo), http.StatusSeeOther)
}

// toLoginReturning sends the browser to the login page, to come back to
// path (a local path) after.
func toLoginReturning(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, "/connexion?return_to="+url.QueryEscape(path), http.StatusSeeOther)
}

// signedIn returns the identity of r's session (nil when none or when it
// cannot be read) and the error of a Kratos that cannot answer. A session
// without a role counts as signed in, with no identity to show.
func (p *Pages) signedIn(r *http.Request) (ident *espaceclient.Identity, signed bool, err error) {
	if p.sessions == nil {
		return nil, false, nil
	}
	id, err := p.sessions.Check(r.Context(), r)
	switch {
	case err == nil:
		return &id, true, nil
	case errors.Is(err, kratos.ErrNoRole):
		return nil, true, nil
	case errors.Is(err, kratos.ErrNoSession):
		return nil, false, nil
	}
	return nil, false, err
}
