package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path/filepath"
	"strings"
	texttemplate "text/template"

	"passerelle/internal/fr"
)

// Templates is the mail templates of one configuration: a package's embedded
// set, in which the files of notifications.templates_dir redefine any
// template by name. Every mail of Passerelle is three templates named after
// it: "<name>.subject" (optional: some subjects are written in Go),
// "<name>.txt" and "<name>.html" (html/template: what it inserts is escaped).
//
// An override is a file of the directory, named anything ending in .txt.tmpl
// or .html.tmpl, holding {{define "<name>.txt"}}…{{end}} blocks; a template it
// does not define keeps its embedded text. The same directory serves every
// package (clients' mails, invitations, staff alerts): a package ignores the
// definitions meant for another.
type Templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// ParseTemplates reads the *.txt.tmpl and *.html.tmpl files of fsys's folder
// "templates" (a package's embedded set), then, when overrideDir is not
// empty, those of overrideDir, whose definitions replace the embedded ones.
// Every set has the same functions (Funcs), so that one override file
// parses in each package's set. A file that does not parse is an error
// naming it.
func ParseTemplates(fsys fs.FS, overrideDir string) (*Templates, error) {
	funcs := Funcs()
	text, err := texttemplate.New("").Funcs(funcs).ParseFS(fsys, "templates/*.txt.tmpl")
	if err != nil {
		return nil, fmt.Errorf("embedded templates: %w", err)
	}
	html, err := htmltemplate.New("").Funcs(funcs).ParseFS(fsys, "templates/*.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("embedded templates: %w", err)
	}
	if overrideDir != "" {
		if files, _ := filepath.Glob(filepath.Join(overrideDir, "*.txt.tmpl")); len(files) > 0 {
			if text, err = text.ParseFiles(files...); err != nil {
				return nil, fmt.Errorf("notifications.templates_dir: %w", err)
			}
		}
		if files, _ := filepath.Glob(filepath.Join(overrideDir, "*.html.tmpl")); len(files) > 0 {
			if html, err = html.ParseFiles(files...); err != nil {
				return nil, fmt.Errorf("notifications.templates_dir: %w", err)
			}
		}
	}
	return &Templates{text: text, html: html}, nil
}

// Funcs are the functions every mail template may call: the French formats
// of internal/fr ({{frLong .Due}}…) and join ({{join .Files ", "}}).
func Funcs() map[string]any {
	m := map[string]any{"join": strings.Join}
	for k, v := range fr.FuncMap() {
		m[k] = v
	}
	return m
}

// Render executes the mail name with data: its subject (white space folded;
// "" when the set defines no "<name>.subject"), its text and its HTML.
func (t *Templates) Render(name string, data any) (Rendered, error) {
	var subj, text, html bytes.Buffer
	if t.text.Lookup(name+".subject") != nil {
		if err := t.text.ExecuteTemplate(&subj, name+".subject", data); err != nil {
			return Rendered{}, fmt.Errorf("rendering the %s mail's subject: %w", name, err)
		}
	}
	if err := t.text.ExecuteTemplate(&text, name+".txt", data); err != nil {
		return Rendered{}, fmt.Errorf("rendering the %s mail's text: %w", name, err)
	}
	if err := t.html.ExecuteTemplate(&html, name+".html", data); err != nil {
		return Rendered{}, fmt.Errorf("rendering the %s mail's HTML: %w", name, err)
	}
	return Rendered{
		Subject: strings.Join(strings.Fields(subj.String()), " "),
		Text:    strings.TrimLeft(text.String(), "\n"),
		HTML:    html.String(),
	}, nil
}
