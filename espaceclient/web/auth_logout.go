package web

import (
	"errors"
	"net/http"

	"passerelle/kratos"
)

// handleLogout serves POST /deconnexion (the menu's "Se déconnecter"
// button): refused from another site (a forged logout), then the browser
// goes to Kratos' logout URL, which clears the session cookie and comes back
// to /connexion (kratos.yml logout.after). Without a session: /connexion.
func (p *Pages) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if err := p.csrf.Check(r); err != nil {
		return errCrossOrigin{err}
	}
	u, err := p.flows.LogoutURL(r.Context(), r)
	switch {
	case errors.Is(err, kratos.ErrNoSession):
		http.Redirect(w, r, "/connexion", http.StatusSeeOther)
		return nil
	case err != nil:
		return err
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
	return nil
}
