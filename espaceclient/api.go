package espaceclient

import (
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/internal/httpx"
)

// API is the customer space's JSON API (DESIGN.md, "Customer-space API").
// Every route checks the Kratos session and scopes what it reads and writes to
// the session's identity; every error is JSON
// {"error":{"code":"...","message":"...","field":"..."}} (see Error).
type API struct {
	svc      *Service
	sessions Sessions
	log      *logrus.Logger
	// csrf refuses state-changing browser requests coming from another
	// origin (Sec-Fetch-Site / Origin), since the session may be a cookie.
	csrf *http.CrossOriginProtection
}

// NewAPI returns the API. log may be nil (a JSON logger on standard error).
func NewAPI(svc *Service, sessions Sessions, log *logrus.Logger) *API {
	if log == nil {
		log = logrus.New()
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	return &API{svc: svc, sessions: sessions, log: log, csrf: http.NewCrossOriginProtection()}
}

// TrustOrigin lets browser pages of another origin (such as
// "https://portail.agence.example") post to the API with the session cookie.
func (a *API) TrustOrigin(origin string) error { return a.csrf.AddTrustedOrigin(origin) }

var errCrossOrigin = &Error{Status: http.StatusForbidden, Code: "cross_origin",
	Message: "Cette action doit être faite depuis l'espace client de l'agence."}

// Register adds the API's routes to mux:
//
//	GET  /api/v1/me
//	GET  /api/v1/categories
//	POST /api/v1/requests
//	GET  /api/v1/requests[?status=]
//	GET  /api/v1/requests/{id}
//	POST /api/v1/requests/{id}/messages
//	POST /api/v1/requests/{id}/close
//	GET  /api/v1/requests/{id}/attachments/{aid}
//
// a JSON 405 (with Allow) for another method on one of these paths, and a
// JSON 404 for any other path under /api/v1/.
func (a *API) Register(mux *http.ServeMux) {
	routes := []struct {
		method, path, name string
		h                  handlerFunc
	}{
		{"GET", "/api/v1/me", "me", a.handleMe},
		{"GET", "/api/v1/categories", "categories", a.handleCategories},
		{"POST", "/api/v1/requests", "request_create", a.handleRequestCreate},
		{"GET", "/api/v1/requests", "request_list", a.handleRequestList},
		{"GET", "/api/v1/requests/{id}", "request_get", a.handleRequestGet},
		{"POST", "/api/v1/requests/{id}/messages", "message_create", a.handleMessageCreate},
		{"POST", "/api/v1/requests/{id}/close", "request_close", a.handleRequestClose},
		{"GET", "/api/v1/requests/{id}/attachments/{aid}", "attachment_get", a.handleAttachment},
	}
	// shapes knows each path without its method, to tell a wrong method
	// (405) from a wrong path (404): the catch-all below would otherwise
	// answer 404 to both.
	shapes := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, a.authed(rt.name, rt.h))
		if allowed[rt.path] == nil {
			shapes.Handle(rt.path, http.NotFoundHandler())
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	mux.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Cette adresse de l'API n'existe pas."}
		if _, pattern := shapes.Handler(r); allowed[pattern] != nil {
			methods := strings.Join(allowed[pattern], ", ")
			w.Header().Set("Allow", methods)
			e = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: "Cette adresse de l'API n'accepte pas la méthode " + r.Method + " : utilisez " + methods + "."}
		}
		e = writeError(w, e)
		a.access(r, "unknown", "", e.Status, e, time.Now())
	}))
}

// handlerFunc is an API action run for an authenticated identity. It writes
// its success answer itself and returns the error to answer otherwise.
type handlerFunc func(w http.ResponseWriter, r *http.Request, id Identity) error

// authed checks the session, runs h, writes its error as JSON and logs one
// line per call (never a cookie, a token or a body).
func (a *API) authed(action string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpx.StatusWriter{ResponseWriter: w}
		var id Identity
		err := a.csrf.Check(r)
		if err != nil {
			err = withCause(errCrossOrigin, err)
		} else {
			id, err = a.sessions.Check(r.Context(), r)
		}
		if err == nil && isWrite(r) {
			// Before the body is read: a refused write costs nothing and stores nothing.
			release, refusal := a.svc.AdmitWrite(sw, r, id)
			if refusal != nil {
				err = refusal
			} else {
				defer release()
			}
		}
		if err == nil {
			err = h(sw, r, id)
		}
		var e *Error
		if err != nil {
			if sw.Status != 0 {
				// The answer has started (a download cut short): log only.
				e = asError(err)
			} else {
				e = writeError(sw, err)
			}
		}
		status := sw.Status
		if status == 0 {
			status = http.StatusOK
		}
		a.access(r, action, id.ID, status, e, start)
	})
}

// access logs one API call.
func (a *API) access(r *http.Request, action, identityID string, status int, e *Error, start time.Time) {
	f := logrus.Fields{
		"action":      action,
		"method":      r.Method,
		"path":        r.URL.Path,
		"status":      status,
		"duration_ms": time.Since(start).Milliseconds(),
	}
	if identityID != "" {
		f["identity_id"] = identityID
	}
	if id := r.PathValue("id"); id != "" {
		f["request_id"] = id
	}
	entry := a.log.WithFields(f)
	switch {
	case e == nil:
		entry.Info("api call")
	case e.Status >= 500:
		entry.WithField("error_code", e.Code).WithField("error", errText(e)).Error("api call failed")
	case e.Status == http.StatusUnauthorized:
		// The client's credentials were refused (missing, expired, revoked,
		// malformed): worth a warning, never an error-level alert.
		entry.WithField("error_code", e.Code).WithField("error", errText(e)).Warn("api call unauthenticated")
	default:
		entry.WithField("error_code", e.Code).WithField("error", errText(e)).Info("api call refused")
	}
}

func errText(e *Error) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// ---- JSON views ---------------------------------------------------------------

// RequestSummary is a request as listed: no thread.
// RequestSummary is a request as one reader sees it (Service.Summary): the
// API's item of a list, and the head of a request page.
type RequestSummary struct {
	Request
	StatusLabel string `json:"status_label"`
	// Transmission is "en cours de transmission" until the Redmine issue exists.
	Transmission string `json:"transmission"`
	PayerLabel   string `json:"payer_label,omitempty"`
	UrgencyLabel string `json:"urgency_label,omitempty"`
	// CanReply is false for an owner reading a request filed on one of the
	// owner's lots by someone else, and for an author who no longer holds the
	// rights the request needs (its lot, its mandate, a role allowed for its
	// category).
	CanReply bool `json:"can_reply"`
	// ReplyRefusal says, in French, why CanReply is false.
	ReplyRefusal string `json:"reply_refusal,omitempty"`
	// SharedWithOwners tells whether the owners of the request's lot read it.
	SharedWithOwners bool `json:"shared_with_owners"`
	// Visibility says, in French, who reads the request besides the agency.
	Visibility string `json:"visibility"`
}

// RequestDetail is a request with its thread.
// RequestDetail is RequestSummary with the thread (Service.Detail).
type RequestDetail struct {
	RequestSummary
	Messages []Message `json:"messages"`
}

func summaryOf(cfg *config.Config, id Identity, r Request) RequestSummary {
	r.Messages = nil
	s := RequestSummary{
		Request:          r,
		StatusLabel:      StatusLabel(r.Status),
		Transmission:     TransmissionPending,
		CanReply:         CanReply(cfg, id, r),
		ReplyRefusal:     replyRefusal(cfg, id, r),
		SharedWithOwners: r.Lot != "" && sharedWithOwners(cfg, r.Category),
		Visibility:       requestVisibility(cfg, id, r),
	}
	if r.RedmineIssueID != nil {
		s.Transmission = TransmissionDone
	}
	if r.Payer != "" {
		s.PayerLabel = PayerLabel(r.Payer)
	}
	if r.Urgency != "" {
		s.UrgencyLabel = UrgencyLabel(r.Urgency)
	}
	return s
}

func detailOf(cfg *config.Config, id Identity, r Request) RequestDetail {
	msgs := r.Messages
	if msgs == nil {
		msgs = []Message{}
	}
	return RequestDetail{RequestSummary: summaryOf(cfg, id, r), Messages: msgs}
}
