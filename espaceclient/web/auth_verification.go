package web

import (
	"net/http"

	"passerelle/kratos"
)

// verificationSpec is the verification of the e-mail address by a code.
var verificationSpec = flowSpec{kind: kratos.FlowVerification, path: "/verification", title: "auth.verification.title",
	intro: "auth.verification.intro"}

// handleVerification serves GET /verification[?flow=ID]. Signed in or not:
// the menu shows when a session is there (a Kratos that cannot tell is no
// reason to refuse the page: it shows without the menu).
func (p *Pages) handleVerification(w http.ResponseWriter, r *http.Request) error {
	ident, _, _ := p.signedIn(r)
	spec := verificationSpec
	if ident != nil {
		spec.links = []authLink{{Href: "/", Text: "auth.back_to_dashboard"}}
	} else {
		spec.links = []authLink{{Href: "/connexion", Text: "auth.back_to_login"}}
	}
	return p.serveFlow(w, r, p.translated(spec), ident)
}
