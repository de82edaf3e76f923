package espaceclient

import (
	"net/http"
	"strconv"
)

// handleAttachment answers GET /api/v1/requests/{id}/attachments/{aid}: the
// file as a download (Content-Disposition: attachment with an RFC 6266 name),
// with its stored content type, nosniff, a sandboxing CSP and no caching
// outside the browser. Another client's file answers 404.
func (a *API) handleAttachment(w http.ResponseWriter, r *http.Request, id Identity) error {
	att, err := a.svc.GetAttachment(r.Context(), id, r.PathValue("id"), r.PathValue("aid"))
	if err != nil {
		return err
	}
	h := w.Header()
	ct := att.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(att.Data)))
	h.Set("Content-Disposition", contentDisposition(att.Filename))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, err = w.Write(att.Data)
	}
	return err
}
