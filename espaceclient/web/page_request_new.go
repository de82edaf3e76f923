package web

import (
	"net/http"
	"strings"

	"passerelle/config"
	"passerelle/espaceclient"
)

// newRequestData is the new-request page: first the categories the role may
// use (a list of links, no JavaScript needed), then the form of the chosen
// one with only the fields it needs.
type newRequestData struct {
	Categories []categoryChoice
	// Category is the chosen one (nil: the list).
	Category *categoryChoice
	// Values are what the client typed, kept when the form comes back with errors.
	Values    map[string]string
	Payers    []espaceclient.Option
	Urgencies []espaceclient.Option
	Lots      []string
	Mandates  []string
	MaxFiles  int
	MaxSize   string
	// FilesLost is set when the form comes back with errors after files were
	// chosen: browsers never keep a file input's choice across a page.
	FilesLost bool
}

type categoryChoice struct {
	config.Category
	Visibility string
}

// Needs tells whether the category needs a field (for templates).
func (c categoryChoice) Needs(field string) bool { return c.Category.Needs(field) }

// handleRequestNew answers GET /demandes/nouvelle[?categorie=id].
func (p *Pages) handleRequestNew(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	d, err := p.newRequestData(id, r.URL.Query().Get("categorie"))
	if err != nil {
		return err
	}
	p.render(w, http.StatusOK, "request_new", page{Title: p.cat.T("new.title"), Identity: &id, Nav: "new", Data: d})
	return nil
}

func (p *Pages) newRequestData(id espaceclient.Identity, category string) (newRequestData, error) {
	cats, err := p.svc.Categories(id)
	if err != nil {
		return newRequestData{}, err
	}
	up := p.svc.Config().Uploads
	d := newRequestData{Values: map[string]string{}, Payers: espaceclient.Payers, Urgencies: espaceclient.Urgencies,
		Lots: id.Lots, Mandates: id.Mandates, MaxFiles: up.MaxFiles, MaxSize: humanSize(int64(up.MaxFileSize))}
	for _, c := range cats {
		choice := categoryChoice{Category: c, Visibility: espaceclient.CategoryVisibility(id.Role, c)}
		d.Categories = append(d.Categories, choice)
		if c.ID == strings.TrimSpace(category) {
			d.Category = &choice
		}
	}
	if len(d.Lots) == 1 {
		d.Values["lot"] = d.Lots[0]
	}
	if len(d.Mandates) == 1 {
		d.Values["mandate"] = d.Mandates[0]
	}
	return d, nil
}

// handleRequestCreate answers POST /demandes: the same reading, quotas and
// validation as the API (Service.ReadRequestForm, SubmitRequest). Filed: 303
// to the confirmation page. Refused: the form again with the error next to
// its field and everything typed kept (422), nothing stored.
func (p *Pages) handleRequestCreate(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	sub, err := p.svc.ReadRequestForm(w, r)
	if err == nil {
		var req espaceclient.Request
		req, err = p.svc.SubmitRequest(r.Context(), id, sub, espaceclient.SourceAPI)
		if err == nil {
			p.log.WithField("request_id", req.ID).WithField("reference", req.Reference).WithField("identity_id", id.ID).
				WithField("category", req.Category).WithField("attachments", len(sub.Files)).Info("request created (page)")
			http.Redirect(w, r, "/demandes/"+req.ID+"/envoyee", http.StatusSeeOther)
			return nil
		}
	}
	e := espaceclient.AsError(err)
	if !formRefusal(e) {
		return err
	}
	d, derr := p.newRequestData(id, sub.Get("category"))
	if derr != nil {
		return derr
	}
	if d.Category == nil {
		d.Category = &categoryChoice{}
		if e.Field == "category" {
			d.Category = nil
		}
	}
	for k, v := range sub.Fields {
		d.Values[k] = v
	}
	d.FilesLost = len(sub.Files) > 0 || isFileError(e)
	field := e.Field
	if field == "" && isFileError(e) {
		field = "attachments"
	}
	p.render(w, e.Status, "request_new", page{Title: p.cat.T("new.title"), Identity: &id, Nav: "new", Data: d,
		Errors: []fieldError{{Field: field, Message: e.Message}}})
	return nil
}

// formRefusal tells whether e is about what the client typed or chose (shown
// on the form) rather than an outage or a missing right (an error page).
func formRefusal(e *espaceclient.Error) bool {
	switch e.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return e.Code == "category_not_allowed" || e.Code == "quota_exceeded"
	}
	return false
}

func isFileError(e *espaceclient.Error) bool {
	switch e.Code {
	case "file_too_large", "unsupported_file_type", "too_many_files", "empty_file", "request_too_large", "quota_exceeded":
		return true
	}
	return false
}
