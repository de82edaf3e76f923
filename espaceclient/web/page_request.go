package web

import (
	"net/http"
	"strings"

	"passerelle/config"
	"passerelle/espaceclient"
)

// requestData is a request page.
type requestData struct {
	espaceclient.RequestDetail
	// Own: the reader filed it (may close it).
	Own bool
	// History is the thread's status changes, oldest first.
	History []espaceclient.Message
	// AfterClose is what writing on a closed request does: "reopen" or
	// "new_request" (configuration on_client_message_after_close).
	AfterClose string
	MaxFiles   int
	MaxSize    string
	// Body is the reply typed, kept when it comes back with an error.
	Body      string
	FilesLost bool
}

// handleRequest answers GET /demandes/{id}: the thread, the status history,
// the facts and, for its author, the reply and close forms. Another client's
// request, or a malformed id, is the 404 page (Service.GetRequest scopes it).
func (p *Pages) handleRequest(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	d, err := p.requestData(r, id, r.PathValue("id"))
	if err != nil {
		return err
	}
	notice := ""
	switch r.URL.Query().Get("ok") {
	case "message":
		notice = p.cat.T("request.sent")
	case "linked":
		notice = p.cat.T("request.sent_linked")
	case "closed":
		notice = p.cat.T("request.closed")
	}
	p.render(w, http.StatusOK, "request", page{Title: d.Subject, Identity: &id, Data: d, Notice: notice})
	return nil
}

func (p *Pages) requestData(r *http.Request, id espaceclient.Identity, requestID string) (requestData, error) {
	req, err := p.svc.GetRequest(r.Context(), id, requestID)
	if err != nil {
		return requestData{}, err
	}
	cfg := p.svc.Config()
	d := requestData{RequestDetail: p.svc.Detail(id, req), Own: req.IdentityID == id.ID,
		AfterClose: cfg.Redmine.OnClientMessageAfterClose, MaxFiles: cfg.Uploads.MaxFiles,
		MaxSize: humanSize(int64(cfg.Uploads.MaxFileSize))}
	if d.AfterClose == "" {
		d.AfterClose = "reopen"
	}
	for _, m := range d.Messages {
		if m.ClientStatus != "" || m.Kind == espaceclient.KindClosed || m.Kind == espaceclient.KindReopened || m.Kind == espaceclient.KindStatus {
			d.History = append(d.History, m)
		}
	}
	return d, nil
}

// handleThread answers GET /demandes/{id}/fil: the thread alone, for the
// page's live refresh (static/app.js).
func (p *Pages) handleThread(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	d, err := p.requestData(r, id, r.PathValue("id"))
	if err != nil {
		return err
	}
	set := p.tpl.pages["request"]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return set.ExecuteTemplate(w, "thread", d)
}

// handleRequestDone answers GET /demandes/{id}/envoyee: the confirmation
// with the dossier reference the seeds promise.
func (p *Pages) handleRequestDone(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	req, err := p.svc.GetRequest(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}
	p.render(w, http.StatusOK, "request_done", page{Title: p.cat.T("done.title"), Identity: &id, Data: p.svc.Summary(id, req)})
	return nil
}

// handleMessageCreate answers POST /demandes/{id}/messages: the API's rules
// (CheckWritable before the body is read, ReadMessageForm, SubmitMessage).
// Sent: 303 to the request it landed in (a new linked request when the
// configuration says new_request). Refused: the page again with the error
// at the reply form and the text kept.
func (p *Pages) handleMessageCreate(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	requestID := r.PathValue("id")
	if _, err := p.svc.CheckWritable(r.Context(), id, requestID); err != nil {
		return err
	}
	sub, err := p.svc.ReadMessageForm(w, r)
	if err == nil {
		var msg espaceclient.Message
		msg, err = p.svc.SubmitMessage(r.Context(), id, requestID, sub, espaceclient.SourceAPI)
		if err == nil {
			p.log.WithField("request_id", msg.RequestID).WithField("message_id", msg.ID).WithField("identity_id", id.ID).
				WithField("attachments", len(sub.Files)).Info("message added (page)")
			ok := "message"
			if msg.RequestID != requestID {
				ok = "linked"
			}
			http.Redirect(w, r, "/demandes/"+msg.RequestID+"?ok="+ok+"#m-"+msg.ID, http.StatusSeeOther)
			return nil
		}
	}
	e := espaceclient.AsError(err)
	if !formRefusal(e) {
		return err
	}
	d, derr := p.requestData(r, id, requestID)
	if derr != nil {
		return derr
	}
	d.Body = sub.Get("body")
	d.FilesLost = len(sub.Files) > 0 || isFileError(e)
	field := e.Field
	if field == "" || isFileError(e) {
		field = "attachments"
		if !isFileError(e) {
			field = "body"
		}
	}
	p.render(w, e.Status, "request", page{Title: d.Subject, Identity: &id, Data: d,
		Errors: []fieldError{{Field: field, Message: e.Message}}})
	return nil
}

// handleRequestClose answers POST /demandes/{id}/cloture (its author only,
// Service.Close): 303 to the request.
func (p *Pages) handleRequestClose(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	req, err := p.svc.Close(r.Context(), id, r.PathValue("id"))
	if err != nil {
		return err
	}
	p.log.WithField("request_id", req.ID).WithField("identity_id", id.ID).Info("request closed (page)")
	http.Redirect(w, r, "/demandes/"+req.ID+"?ok=closed", http.StatusSeeOther)
	return nil
}

// isClosed is for templates.
func (d requestData) IsClosed() bool { return d.Status == config.StatusClosed }

// AuthorClass is the CSS class of a message's author.
func AuthorClass(kind string) string { return strings.ToLower(kind) }
