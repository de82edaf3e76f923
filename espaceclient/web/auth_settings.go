package web

import (
	"net/http"

	"passerelle/kratos"
)

// settingsSpec is the password change (kratos.yml switches the profile
// method off: a settings flow changes the password only).
var settingsSpec = flowSpec{kind: kratos.FlowSettings, path: "/parametres", title: "auth.settings.title", intro: "auth.settings.intro",
	nav: "settings", links: []authLink{{Href: "/", Text: "auth.back_to_dashboard"}}}

// handleSettings serves GET /parametres[?flow=ID], for a signed-in client
// only: without a session, the login page, coming back here after.
func (p *Pages) handleSettings(w http.ResponseWriter, r *http.Request) error {
	ident, signed, err := p.signedIn(r)
	if err != nil {
		return err
	}
	if !signed {
		toLoginReturning(w, r, settingsSpec.path)
		return nil
	}
	return p.serveFlow(w, r, p.translated(settingsSpec), ident)
}
