package web

import (
	"net/http"

	"passerelle/kratos"
)

// loginSpec is the login page: e-mail and password (Kratos' password
// method), with the way to a forgotten password.
var loginSpec = flowSpec{kind: kratos.FlowLogin, path: "/connexion", title: "auth.login.title", intro: "auth.login.intro",
	links: []authLink{{Href: "/recuperation", Text: "auth.login.forgot"}}}

// handleLogin serves GET /connexion[?flow=ID][&return_to=/path]. Without a
// flow it starts one at Kratos (coming back to return_to when it is a path
// of this site, never another host), or sends a visitor already signed in to
// the dashboard. With a flow it renders its form. A refresh flow (Kratos
// asking a signed-in client to confirm the password before a sensitive
// change) has a flow id, so it is rendered even with a session.
func (p *Pages) handleLogin(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("flow") == "" {
		_, signed, err := p.signedIn(r)
		if err != nil {
			return err
		}
		if signed {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return nil
		}
	}
	return p.serveFlow(w, r, p.translated(loginSpec), nil)
}

// translated returns spec with its links' texts in the catalogue's language.
func (p *Pages) translated(spec flowSpec) flowSpec {
	links := make([]authLink, len(spec.links))
	for i, l := range spec.links {
		links[i] = authLink{Href: l.Href, Text: p.cat.T(l.Text)}
	}
	spec.links = links
	return spec
}
