package espaceclient

import "net/http"

// requestList is GET /api/v1/requests.
type requestList struct {
	Requests []RequestSummary `json:"requests"`
}

// handleRequestList answers GET /api/v1/requests[?status=]: the caller's
// requests, and for an owner those filed on the owner's lots in the
// categories shared with owners, newest first.
func (a *API) handleRequestList(w http.ResponseWriter, r *http.Request, id Identity) error {
	reqs, err := a.svc.ListRequests(r.Context(), id, r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	cfg := a.svc.cfg.Get()
	out := requestList{Requests: make([]RequestSummary, 0, len(reqs))}
	for _, req := range reqs {
		out.Requests = append(out.Requests, summaryOf(cfg, id, req))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
