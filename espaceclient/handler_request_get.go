package espaceclient

import "net/http"

// handleRequestGet answers GET /api/v1/requests/{id}: the request with its
// thread (messages with author_kind client|staff|system and attachments with
// their download url). Another client's request, or a malformed id, is 404.
func (a *API) handleRequestGet(w http.ResponseWriter, r *http.Request, id Identity) error {
	req, err := a.svc.GetRequest(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, detailOf(a.svc.cfg.Get(), id, req))
	return nil
}
