package web

import (
	"net/http"

	"passerelle/config"
	"passerelle/espaceclient"
)

type preferencesData struct {
	espaceclient.Preferences
	Owner bool
}

// handlePreferences answers GET /preferences: e-mails at once or a daily
// digest; owners also choose whether to follow the requests on their lots.
func (p *Pages) handlePreferences(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	prefs, err := p.svc.Preferences(r.Context(), id)
	if err != nil {
		return err
	}
	notice := ""
	if r.URL.Query().Get("ok") == "1" {
		notice = p.cat.T("prefs.saved")
	}
	p.render(w, http.StatusOK, "preferences", page{Title: p.cat.T("prefs.title"), Identity: &id, Nav: "prefs", Notice: notice,
		Data: preferencesData{Preferences: prefs, Owner: id.Role == config.RoleOwner}})
	return nil
}

// handlePreferencesSave answers POST /preferences (urlencoded): 303 back to
// the page, or the page again with the error.
func (p *Pages) handlePreferencesSave(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		return &espaceclient.Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "Le formulaire envoyé est illisible.", Err: err}
	}
	_, err := p.svc.SavePreferences(r.Context(), id, r.PostForm.Get("email_mode"), r.PostForm.Get("follow_lots") == "1")
	if err != nil {
		e := espaceclient.AsError(err)
		if e.Status != http.StatusUnprocessableEntity {
			return err
		}
		prefs, perr := p.svc.Preferences(r.Context(), id)
		if perr != nil {
			return perr
		}
		p.render(w, e.Status, "preferences", page{Title: p.cat.T("prefs.title"), Identity: &id, Nav: "prefs",
			Errors: []fieldError{{Field: "email_mode", Message: e.Message}},
			Data:   preferencesData{Preferences: prefs, Owner: id.Role == config.RoleOwner}})
		return nil
	}
	http.Redirect(w, r, "/preferences?ok=1", http.StatusSeeOther)
	return nil
}
