package espaceclient

import "net/http"

// messageCreated is the answer of POST /api/v1/requests/{id}/messages: the
// message, and the request it landed in (without thread). That request is the
// one of the URL, except when the request was closed and the configuration
// says new_request: it is then the new request, linked to the closed one
// (its linked_request_id), and the Location header points at it.
type messageCreated struct {
	Message
	Request RequestSummary `json:"request"`
}

// handleMessageCreate answers POST /api/v1/requests/{id}/messages, with the
// same body forms as request creation (only "body" and "attachments"): 201.
// An author who lost the rights the request needs (see writeRefusal) gets
// 403 rights_changed and nothing is stored.
func (a *API) handleMessageCreate(w http.ResponseWriter, r *http.Request, id Identity) error {
	requestID := r.PathValue("id")
	// 404, read_only or rights_changed before reading a body that could not
	// be used anyway.
	if _, err := a.svc.CheckWritable(r.Context(), id, requestID); err != nil {
		return err
	}
	sub, err := a.svc.ReadMessageForm(w, r)
	if err != nil {
		return err
	}
	msg, err := a.svc.SubmitMessage(r.Context(), id, requestID, sub, SourceAPI)
	if err != nil {
		return err
	}
	req, err := a.svc.GetRequest(r.Context(), id, msg.RequestID)
	if err != nil {
		return err
	}
	a.log.WithField("request_id", req.ID).WithField("message_id", msg.ID).WithField("identity_id", id.ID).
		WithField("attachments", len(sub.Files)).WithField("linked", req.ID != requestID).Info("message added")
	w.Header().Set("Location", "/api/v1/requests/"+req.ID)
	writeJSON(w, http.StatusCreated, messageCreated{Message: msg, Request: summaryOf(a.svc.cfg.Get(), id, req)})
	return nil
}
