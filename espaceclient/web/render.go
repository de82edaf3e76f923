package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"passerelle/espaceclient"
	"passerelle/internal/fr"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// templates holds one template set per page: the layout and the page's file.
type templates struct {
	pages map[string]*template.Template
}

// mustParseTemplates parses every page with the layout and the partials.
func mustParseTemplates(cat Catalogue, local func(time.Time) time.Time) *templates {
	funcs := template.FuncMap{
		"local":       local,
		"t":           cat.T,
		"statusLabel": espaceclient.StatusLabel,
		"humanSize":   humanSize,
		"isImage":     func(ct string) bool { return strings.HasPrefix(ct, "image/") && ct != "image/heic" },
		"inc":         func(i int) int { return i + 1 },
		"safeText":    func(s string) template.HTML { return template.HTML(s) }, // only for espaceclient.RenderText output
		"kratosText": func(t any) string {
			return kratosText(cat, t)
		},
		"fieldOf": func(pg page, name, label, hint string, required bool) textField {
			var v string
			if d, ok := pg.Data.(newRequestData); ok {
				v = d.Values[name]
			}
			return textField{Name: name, Label: label, Hint: hint, Required: required, Value: v, Error: pg.FieldError(name)}
		},
		"filesOf": func(pg page, label string, maxFiles int, maxSize string, lost bool) filesField {
			return filesField{Label: label, Error: pg.FieldError("attachments"), MaxFiles: maxFiles, MaxSize: maxSize, Lost: lost}
		},
	}
	for k, v := range fr.FuncMap() {
		funcs[k] = v
	}
	partials, err := fs.Glob(templateFS, "templates/_*.html")
	if err != nil {
		panic(err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if strings.HasPrefix(name, "_") {
			continue
		}
		set := template.New(name).Funcs(funcs)
		set = template.Must(set.ParseFS(templateFS, append([]string{f}, partials...)...))
		t.pages[name] = set
	}
	return t
}

// page is what every template receives.
type page struct {
	// Title is the page's <title> and <h1>.
	Title string
	// Identity is the signed-in client (nil on the sign-in pages).
	Identity *espaceclient.Identity
	// Nav names the active entry of the menu.
	Nav string
	// Errors are the form's problems, listed in the error summary at the top
	// and shown next to their fields.
	Errors []fieldError
	// Notice is a confirmation shown at the top ("Message envoyé").
	Notice string
	// Data is the page's own.
	Data any
}

// textField is one text input of a form, for the "text-field" partial.
type textField struct {
	Name, Label, Hint, Value, Error string
	Required                        bool
}

// filesField is a form's file input, for the "files-field" partial.
type filesField struct {
	Label, Error, MaxSize string
	MaxFiles              int
	// Lost: the form came back after files were chosen (browsers never keep them).
	Lost bool
}

// fieldError is one problem of a form; Field is the id of the input it is
// about ("" for the whole form).
type fieldError struct {
	Field   string
	Message string
}

// FieldError returns the message about field ("" when none), for templates.
func (p page) FieldError(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// render writes page name with status. The page is rendered to a buffer
// first: a template error is a 500 page, never half a page.
func (p *Pages) render(w http.ResponseWriter, status int, name string, pg page) {
	set, ok := p.tpl.pages[name]
	if !ok {
		p.log.WithField("template", name).Error("page template missing")
		http.Error(w, "page introuvable", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout", pg); err != nil {
		p.log.WithField("template", name).WithError(err).Error("page rendering failed")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(p.cat.T("error.internal.text")))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	// Scripts and styles come from this site only; no inline script runs.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "+
		"form-action 'self' "+p.formActionOrigin()+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// formActionOrigin is the origin Kratos' forms post to (their action), allowed
// by the Content-Security-Policy.
func (p *Pages) formActionOrigin() string {
	if p.flows == nil {
		return ""
	}
	u := p.flows.BrowserURL("login", "")
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "/"); j >= 0 {
			return u[:i+3+j]
		}
	}
	return u
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.Replace(fmt.Sprintf("%.1f Mo", float64(n)/(1<<20)), ".", ",", 1)
	case n >= 1<<10:
		return fmt.Sprintf("%d ko", (n+512)>>10)
	}
	return fmt.Sprintf("%d octets", n)
}

// local converts t to the agency's time zone for display.
func (p *Pages) local(t time.Time) time.Time {
	if p.svc == nil {
		return t
	}
	return t.In(p.svc.Location())
}
