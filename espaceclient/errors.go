package espaceclient

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"passerelle/database/dberr"
	"passerelle/internal/httpx"
)

// ErrNotFound is returned by every lookup of the store when nothing matches,
// including a malformed id.
var ErrNotFound = errors.New("espaceclient: not found")

// Error is a refusal the client can understand: an HTTP status, a stable
// machine code, the offending field when there is one and a French message.
// The API writes it as {"error":{"code":"...","message":"...","field":"..."}}.
//
// Codes and statuses used by this package:
//
//	400 bad_request             malformed JSON, multipart or form body
//	401 unauthenticated         no Kratos session, or an invalid or expired one
//	403 no_role                 the identity has no valid role in metadata_public
//	403 category_not_allowed    the caller's role may not use the category
//	403 cross_origin            a state-changing browser request from another origin (CSRF)
//	403 read_only               an owner reading a request filed on one of the
//	                            owner's lots by someone else tries to write to it
//	403 rights_changed          the author of a request no longer holds what it needs
//	                            (a role allowed for its category, its lot, its mandate):
//	                            reading stays allowed, writing (message, close, reopen,
//	                            linked request) is refused and nothing is stored
//	404 not_found               no such request or attachment for this caller
//	413 file_too_large          one file is over uploads.max_file_size
//	413 request_too_large       the whole body is over the cap
//	415 unsupported_file_type   a file is not JPEG, PNG, WebP, HEIC or PDF (judged from its bytes)
//	415 unsupported_media_type  the body is not multipart/form-data, JSON or a form
//	422 unknown_category, required, too_long, invalid_value, invalid_text,
//	    unknown_lot, unknown_mandate, too_many_files, empty_file
//	500 outbox_failed           the mirroring job could not be queued: nothing was stored, retry
//	500 internal                anything else (details in the log only)
//	503 session_unavailable     Kratos could not be reached, or cannot read its
//	                            sessions (its database is down): an outage, never a logout
//	503 service_unavailable     PostgreSQL is down, restarting or not answering in time
//
// Every 503 carries a Retry-After header (RetryAfterSeconds).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Err is the underlying cause, for logs; never sent to the client.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	s += ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// invalid is a 422 about one field.
func invalid(code, field, format string, args ...any) *Error {
	return newError(http.StatusUnprocessableEntity, code, field, format, args...)
}

var (
	errRequestNotFound = &Error{Status: http.StatusNotFound, Code: "not_found",
		Message: "Cette demande n'existe pas ou ne vous est pas accessible."}
	errAttachmentNotFound = &Error{Status: http.StatusNotFound, Code: "not_found",
		Message: "Ce document n'existe pas ou ne vous est pas accessible."}
	errReadOnly = &Error{Status: http.StatusForbidden, Code: "read_only",
		Message: "Vous pouvez consulter cette demande, déposée sur l'un de vos lots, mais seul son auteur peut y répondre ou la clôturer."}
	errOutbox = &Error{Status: http.StatusInternalServerError, Code: "outbox_failed",
		Message: "Votre envoi n'a pas pu être pris en compte et rien n'a été enregistré. Merci de réessayer dans quelques instants."}
	errInternal = &Error{Status: http.StatusInternalServerError, Code: "internal",
		Message: "Une erreur inattendue est survenue. Merci de réessayer dans quelques instants."}
	errUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated",
		Message: "Vous n'êtes pas connecté ou votre session a expiré. Merci de vous reconnecter."}
	errNoRole = &Error{Status: http.StatusForbidden, Code: "no_role",
		Message: "Votre compte n'est pas encore rattaché à un lot ou à un mandat. Merci de contacter l'agence."}
	errSessionUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "session_unavailable",
		Message: "Connexion momentanément indisponible, réessayez dans un instant. Vous n'avez pas été déconnecté."}
	errServiceUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
		Message: "Service momentanément indisponible, réessayez dans un instant."}
)

// RetryAfterSeconds is the Retry-After of every 503: an outage of the
// database or of Kratos (a restart takes a few seconds).
const RetryAfterSeconds = 5

// withCause copies a canned error and attaches a cause for the log.
func withCause(e *Error, cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// asError turns any error into the *Error the client will see: the typed
// errors of a session check become theirs (sessionRefusal), a *Error stays
// itself, ErrNotFound becomes a 404 and anything else a 500 "internal"
// carrying the cause for the log.
//
// An unavailable database (dberr.Unavailable: PostgreSQL stopped or
// restarting, a connection cut, a bounded wait that ran out) is a 503
// service_unavailable, never a 500, even when it surfaced as a 500 *Error
// (internal, outbox_failed: River's insert failed on the same dead
// connection).
func asError(err error) *Error {
	if e := sessionRefusal(err); e != nil {
		return e
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Status == http.StatusInternalServerError && dberr.Unavailable(e.Err) {
			return withCause(errServiceUnavailable, e.Err)
		}
		return e
	}
	if errors.Is(err, ErrNotFound) {
		return withCause(errRequestNotFound, err)
	}
	if dberr.Unavailable(err) {
		return withCause(errServiceUnavailable, err)
	}
	return withCause(errInternal, err)
}

type errorBody struct {
	Error *Error `json:"error"`
}

// writeError writes err as the JSON error body with its status.
// A 503 says when to retry (Retry-After).
func writeError(w http.ResponseWriter, err error) *Error {
	e := asError(err)
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	writeJSON(w, e.Status, errorBody{Error: e})
	return e
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) { httpx.WriteJSON(w, status, v) }
