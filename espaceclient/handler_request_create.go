package espaceclient

import "net/http"

// handleRequestCreate answers POST /api/v1/requests: multipart/form-data
// (fields, and files in "attachments") or JSON (fields only). 201 with the
// request and its first message, and a Location header.
func (a *API) handleRequestCreate(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := checkRole(id); err != nil {
		return err
	}
	sub, err := a.svc.ReadRequestForm(w, r)
	if err != nil {
		return err
	}
	req, err := a.svc.SubmitRequest(r.Context(), id, sub, SourceAPI)
	if err != nil {
		return err
	}
	a.log.WithField("request_id", req.ID).WithField("reference", req.Reference).
		WithField("identity_id", id.ID).WithField("category", req.Category).
		WithField("attachments", len(sub.Files)).Info("request created")
	w.Header().Set("Location", "/api/v1/requests/"+req.ID)
	writeJSON(w, http.StatusCreated, detailOf(a.svc.cfg.Get(), id, req))
	return nil
}
