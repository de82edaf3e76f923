package web

import (
	"net/http"
	"time"

	"passerelle/internal/httpx"
)

// unsubscribeData is the one-click unsubscribe page.
type unsubscribeData struct {
	Token string
	Done  bool
}

// handleUnsubscribe answers GET and POST /desabonnement/{token}, the
// List-Unsubscribe address of the mails to clients (RFC 8058), without a
// session: the token is the only authority, so neither is behind the
// cross-origin check (mail providers post from their own servers).
//   - GET shows a button and changes nothing (link scanners open links);
//   - POST (the button, or a provider's "List-Unsubscribe=One-Click") stops
//     every mail but the acknowledgments of new requests.
//
// An unknown token is the 404 page.
func (p *Pages) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &httpx.StatusWriter{ResponseWriter: w}
	token := r.PathValue("token")
	var err error
	var ok bool
	if r.Method == http.MethodPost {
		ok, err = p.svc.Unsubscribe(r.Context(), token)
	} else {
		ok, err = p.svc.UnsubscribeTokenValid(r.Context(), token)
	}
	switch {
	case err != nil:
		p.errorPage(sw, r, nil, err)
	case !ok:
		p.notFound(sw, nil)
	default:
		p.render(sw, http.StatusOK, "unsubscribe", page{Title: p.cat.T("unsub.title"),
			Data: unsubscribeData{Token: token, Done: r.Method == http.MethodPost}})
	}
	p.access(r, "unsubscribe", "", sw.Status, err, start)
}
