package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/internal/httpx"
	"passerelle/kratos"
)

// pageFunc is a page or action for a signed-in client. It writes its answer
// and returns the error to show otherwise (one wrapper, as in the API).
type pageFunc func(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error

// authed checks the Kratos session (and, for a POST, that the form comes
// from this site), runs h, and turns its error into a page:
//   - no session: 303 to Kratos' login flow, coming back here after;
//   - Kratos unreachable: the "connexion momentanément indisponible" page (503);
//   - no role: the "accès non ouvert" page (403);
//   - not found (another client's request too): the 404 page, never a hint;
//   - PostgreSQL down: the "service momentanément indisponible" page (503).
func (p *Pages) authed(action string, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpx.StatusWriter{ResponseWriter: w}
		var id espaceclient.Identity
		var err error
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if cerr := p.csrf.Check(r); cerr != nil {
				err = errCrossOrigin{cerr}
			}
		}
		if err == nil {
			id, err = p.sessions.Check(r.Context(), r)
			if errors.Is(err, kratos.ErrNoSession) {
				p.toLogin(sw, r)
				p.access(r, action, "", sw.Status, nil, start)
				return
			}
		}
		if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			// The API's limits, before the body is read (Service.AdmitWrite).
			release, refusal := p.svc.AdmitWrite(sw, r, id)
			if refusal != nil {
				err = refusal
			} else {
				defer release()
			}
		}
		if err == nil {
			err = h(sw, r, id)
		}
		if err != nil && sw.Status == 0 {
			p.errorPage(sw, r, &id, err)
		}
		p.access(r, action, id.ID, sw.Status, err, start)
	})
}

// errCrossOrigin is a form posted from another site.
type errCrossOrigin struct{ err error }

func (e errCrossOrigin) Error() string { return "cross-origin form: " + e.err.Error() }

// toLogin sends the browser to Kratos' login flow, to come back to the page
// it asked for (a GET) or to the dashboard.
func (p *Pages) toLogin(w http.ResponseWriter, r *http.Request) {
	back := "/"
	if r.Method == http.MethodGet {
		back = r.URL.RequestURI()
	}
	http.Redirect(w, r, "/connexion?return_to="+url.QueryEscape(back), http.StatusSeeOther)
}

// errorPage renders err as one of the error pages.
func (p *Pages) errorPage(w http.ResponseWriter, r *http.Request, id *espaceclient.Identity, err error) {
	var ident *espaceclient.Identity
	if id != nil && id.ID != "" {
		ident = id
	}
	type errData struct{ Text, Retry string }
	var co errCrossOrigin
	if errors.As(err, &co) {
		p.render(w, http.StatusForbidden, "error", page{Title: p.cat.T("error.forbidden.title"), Identity: ident,
			Data: errData{Text: p.cat.T("error.cross_origin.text")}})
		return
	}
	e := espaceclient.AsError(err)
	switch {
	case e.Code == "session_unavailable":
		w.Header().Set("Retry-After", "5")
		p.render(w, http.StatusServiceUnavailable, "error", page{Title: p.cat.T("error.kratos.title"),
			Data: errData{Text: p.cat.T("error.kratos.text"), Retry: localPath(r.URL.RequestURI())}})
	case e.Code == "no_role":
		p.render(w, http.StatusForbidden, "error", page{Title: p.cat.T("error.no_role.title"),
			Data: errData{Text: p.cat.T("error.no_role.text")}})
	case e.Status == http.StatusNotFound:
		p.notFound(w, ident)
	case e.Status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
		p.render(w, http.StatusServiceUnavailable, "error", page{Title: p.cat.T("error.db.title"), Identity: ident,
			Data: errData{Text: p.cat.T("error.db.text"), Retry: retryOf(r)}})
	case e.Status >= 500:
		p.render(w, e.Status, "error", page{Title: p.cat.T("error.internal.title"), Identity: ident,
			Data: errData{Text: p.cat.T("error.internal.text")}})
	default:
		// A refusal with its French message (read_only, rights_changed, …).
		p.render(w, e.Status, "error", page{Title: p.cat.T("error.forbidden.title"), Identity: ident,
			Data: errData{Text: e.Message}})
	}
}

// retryOf is the page to retry: the page itself for a GET.
func retryOf(r *http.Request) string {
	if r.Method == http.MethodGet {
		return localPath(r.URL.RequestURI())
	}
	return ""
}

// notFound renders the 404 page: the same for a page that does not exist and
// for another client's request.
func (p *Pages) notFound(w http.ResponseWriter, id *espaceclient.Identity) {
	p.render(w, http.StatusNotFound, "error", page{Title: p.cat.T("error.not_found.title"), Identity: id,
		Data: struct{ Text, Retry string }{Text: p.cat.T("error.not_found.text")}})
}

// access logs one page call (never a cookie, a token or a body).
func (p *Pages) access(r *http.Request, action, identityID string, status int, err error, start time.Time) {
	if status == 0 {
		status = http.StatusOK
	}
	f := logrus.Fields{"action": action, "method": r.Method, "path": r.URL.Path, "status": status,
		"duration_ms": time.Since(start).Milliseconds()}
	if identityID != "" {
		f["identity_id"] = identityID
	}
	entry := p.log.WithFields(f)
	switch {
	case err == nil:
		entry.Info("page served")
	case status >= 500:
		entry.WithError(err).Error("page failed")
	default:
		entry.WithError(err).Info("page refused")
	}
}
