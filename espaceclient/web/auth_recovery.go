package web

import (
	"net/http"

	"passerelle/kratos"
)

// recoverySpec is account recovery by a code sent by e-mail (the path of the
// agency's invitation too): the e-mail address, then the code. Once the code
// is accepted Kratos signs the client in and sends the browser to the
// settings page, to choose a password.
var recoverySpec = flowSpec{kind: kratos.FlowRecovery, path: "/recuperation", title: "auth.recovery.title", intro: "auth.recovery.intro",
	links: []authLink{{Href: "/connexion", Text: "auth.back_to_login"}}}

// handleRecovery serves GET /recuperation[?flow=ID].
func (p *Pages) handleRecovery(w http.ResponseWriter, r *http.Request) error {
	return p.serveFlow(w, r, p.translated(recoverySpec), nil)
}
