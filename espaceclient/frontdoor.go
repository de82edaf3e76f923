package espaceclient

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"passerelle/config"
)

// This file is what every front door of the customer space shares: the JSON
// API (api.go) and the web pages (package espaceclient/web) read a client's
// form, check quotas and rights, and call the same use cases through these
// functions, so each rule has one implementation (DESIGN.md, "one service,
// two front doors").

// Submission is a client's posted form: text fields and files.
type Submission struct {
	Fields map[string]string
	Files  []Upload
}

// Get returns one field ("" when absent).
func (s Submission) Get(name string) string { return s.Fields[name] }

// ReadRequestForm reads a new request's form (multipart/form-data with files
// in "attachments", JSON or urlencoded), bounded by the uploads limits of the
// current configuration, before anything is stored.
func (s *Service) ReadRequestForm(w http.ResponseWriter, r *http.Request) (Submission, error) {
	sub, err := readSubmission(w, r, s.cfg.Get().Uploads, createFields, true)
	return Submission{Fields: sub.fields, Files: sub.files}, err
}

// ReadMessageForm reads a follow-up's form (only "body" and "attachments").
func (s *Service) ReadMessageForm(w http.ResponseWriter, r *http.Request) (Submission, error) {
	sub, err := readSubmission(w, r, s.cfg.Get().Uploads, messageFields, true)
	return Submission{Fields: sub.fields, Files: sub.files}, err
}

// SubmitRequest files a new request from a submission: the role, the
// identity's storage quota, then CreateRequest (every field validated before
// anything is stored).
func (s *Service) SubmitRequest(ctx context.Context, id Identity, sub Submission, source string) (Request, error) {
	if err := checkRole(id); err != nil {
		return Request{}, err
	}
	if err := s.checkQuota(ctx, id, "", sub.Files); err != nil {
		return Request{}, err
	}
	in := NewRequest{
		Category: sub.Get("category"), Subject: sub.Get("subject"), Body: sub.Get("body"),
		Location: sub.Get("location"), Urgency: sub.Get("urgency"), Payer: sub.Get("payer"),
		Lot: sub.Get("lot"), Mandate: sub.Get("mandate"),
	}
	return s.CreateRequest(ctx, id, in, sub.Files, source)
}

// CheckWritable tells, before a follow-up's body is read, whether id may
// write to request requestID: ErrNotFound for a request id may not read,
// 403 read_only or rights_changed for one it may only read. AddMessage checks
// again under the request's lock.
func (s *Service) CheckWritable(ctx context.Context, id Identity, requestID string) (Request, error) {
	if err := checkRole(id); err != nil {
		return Request{}, err
	}
	cur, err := s.GetRequest(ctx, id, requestID)
	if err != nil {
		return Request{}, err
	}
	if err := writableCheck(s.cfg.Get(), id, cur); err != nil {
		return Request{}, err
	}
	return cur, nil
}

// SubmitMessage adds a follow-up from a submission to request requestID
// (checked writable first): the quota, then AddMessage. The message may land
// in a new linked request (configuration new_request): its RequestID says.
func (s *Service) SubmitMessage(ctx context.Context, id Identity, requestID string, sub Submission, source string) (Message, error) {
	if err := s.checkQuota(ctx, id, requestID, sub.Files); err != nil {
		return Message{}, err
	}
	return s.AddMessage(ctx, id, requestID, sub.Get("body"), sub.Files, source)
}

// Summary is a request as its reader sees it: the labels, whether the
// transmission to the agency is done, whether the reader may reply and who
// else reads it. The API answers it as JSON, the pages render it.
func (s *Service) Summary(id Identity, r Request) RequestSummary {
	return summaryOf(s.cfg.Get(), id, r)
}

// Detail is Summary with the thread.
func (s *Service) Detail(id Identity, r Request) RequestDetail { return detailOf(s.cfg.Get(), id, r) }

// Config returns the configuration in effect (read it once per request).
func (s *Service) Config() *config.Config { return s.cfg.Get() }

// AsError turns any error of the service into the refusal a client is shown
// (see asError): its status, code, field and French message.
func AsError(err error) *Error { return asError(err) }

// Location is the agency's time zone (calendar.time_zone), in which pages
// write dates.
func (s *Service) Location() *time.Location { return s.location(s.cfg.Get()) }

// CategoryVisibility says to a tenant who will read a request of cat besides
// the agency ("" for owners).
func CategoryVisibility(role config.Role, cat config.Category) string {
	return categoryVisibility(role, cat)
}

// AdmitWrite lets one write of id through the per-identity limits
// (config.Limits: the write rate, and the uploads in flight for a multipart
// body), before its body is read: a refused write costs nothing and stores
// nothing. It returns release, to call when the write ends, or the 429 to
// answer (Retry-After and Connection: close already set on w: the unread
// body is not drained). One limiter per process, for every front door.
func (s *Service) AdmitWrite(w http.ResponseWriter, r *http.Request, id Identity) (release func(), refusal *Error) {
	release, lr := s.limits.admit(id.ID, isUpload(r), s.limitsConfig(), time.Now())
	if lr != nil {
		w.Header().Set("Retry-After", strconv.Itoa(lr.retryAfter))
		w.Header().Set("Connection", "close")
		return nil, lr.Error
	}
	return release, nil
}
