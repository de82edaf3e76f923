package espaceclient

import "net/http"

// meView is GET /api/v1/me: the caller's identity as the customer space sees it.
type meView struct {
	Identity
	RoleLabel string `json:"role_label"`
}

// handleMe answers GET /api/v1/me: id, email, name, role, lots, mandates.
func (a *API) handleMe(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := checkRole(id); err != nil {
		return err
	}
	if id.Lots == nil {
		id.Lots = []string{}
	}
	if id.Mandates == nil {
		id.Mandates = []string{}
	}
	writeJSON(w, http.StatusOK, meView{Identity: id, RoleLabel: RoleLabel(id.Role)})
	return nil
}
