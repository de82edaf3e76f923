package espaceclient

import (
	"net/http"
	"strconv"
)

// handleAttachment answers GET /api/v1/requests/{id}/attachments/{aid}: the
// file as a download (Content-Disposition: attachment with an RFC 6266 name),
// with the type its bytes are sniffed as (servedContentType), nosniff, a
// sandboxing CSP and no caching outside the browser. Another client's file
// answers 404.
func (a *API) handleAttachment(w http.ResponseWriter, r *http.Request, id Identity) error {
	att, err := a.svc.GetAttachment(r.Context(), id, r.PathValue("id"), r.PathValue("aid"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", servedContentType(att.Data))
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

// servedContentType is the type a stored file is served with: the type its
// bytes are sniffed as when it is one of the kinds accepted from clients
// (SniffContentType: JPEG, PNG, WebP, HEIC, PDF), else
// application/octet-stream. The stored type is not trusted: a client's file
// was sniffed at upload, but a staff file carries the type Redmine declares,
// which whoever attached it chose (text/html, image/svg+xml...). Plain text is
// not on the list either: it is served as octet-stream, still downloadable.
func servedContentType(data []byte) string {
	if ct, ok := SniffContentType(data); ok {
		return ct
	}
	return "application/octet-stream"
}
