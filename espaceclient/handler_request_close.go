package espaceclient

import "net/http"

// handleRequestClose answers POST /api/v1/requests/{id}/close: the author
// closes the request; 200 with the request and its thread. Closing a closed
// request answers 200 again and changes nothing.
func (a *API) handleRequestClose(w http.ResponseWriter, r *http.Request, id Identity) error {
	req, err := a.svc.Close(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.log.WithField("request_id", req.ID).WithField("identity_id", id.ID).Info("request closed")
	writeJSON(w, http.StatusOK, detailOf(a.svc.cfg.Get(), id, req))
	return nil
}
