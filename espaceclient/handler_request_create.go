package espaceclient

import "net/http"

// handleRequestCreate answers POST /api/v1/requests: multipart/form-data
// (fields, and files in "attachments") or JSON (fields only). 201 with the
// request and its first message, and a Location header.
func (a *API) handleRequestCreate(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := checkRole(id); err != nil {
		return err
	}
	sub, err := readSubmission(w, r, a.svc.cfg.Get().Uploads, createFields, true)
	if err != nil {
		return err
	}
	if err := a.svc.checkQuota(r.Context(), id, "", sub.files); err != nil {
		return err
	}
	in := NewRequest{
		Category: sub.get("category"), Subject: sub.get("subject"), Body: sub.get("body"),
		Location: sub.get("location"), Urgency: sub.get("urgency"), Payer: sub.get("payer"),
		Lot: sub.get("lot"), Mandate: sub.get("mandate"),
	}
	req, err := a.svc.CreateRequest(r.Context(), id, in, sub.files, SourceAPI)
	if err != nil {
		return err
	}
	a.log.WithField("request_id", req.ID).WithField("reference", req.Reference).
		WithField("identity_id", id.ID).WithField("category", req.Category).
		WithField("attachments", len(sub.files)).Info("request created")
	w.Header().Set("Location", "/api/v1/requests/"+req.ID)
	writeJSON(w, http.StatusCreated, detailOf(a.svc.cfg.Get(), id, req))
	return nil
}
