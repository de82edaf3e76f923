package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.New("").ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").ParseFS(templateFS, "templates/*.html.tmpl"))
)

// Alert kinds.
const (
	KindWarning    = "warning"
	KindEscalation = "escalation"
)

// DeadlineAlert is what a staff warning or escalation e-mail says. Every
// field is already written for people, in French (dates included): the
// templates only lay them out.
type DeadlineAlert struct {
	// Kind is KindWarning (the deadline is near) or KindEscalation (it passed).
	Kind string
	// Agency signs the message ("Passerelle — Agence Exemple").
	Agency string
	// Reference is the customer-space reference (D-2026-000123).
	Reference string
	Subject   string
	// Category, Role (locataire, propriétaire), Urgency (may be empty), Client
	// (the client's name).
	Category string
	Role     string
	Urgency  string
	Client   string
	// IssueID and IssueURL locate the Redmine issue (0 and "" when it is not
	// created yet); Assignee is who it is assigned to ("" when nobody).
	IssueID  int
	IssueURL string
	Assignee string
	// Target is what is awaited ("la première réponse au client"), Limit the
	// time allowed ("2 jours ouvrés"), Rule where it comes from.
	Target string
	Limit  string
	Rule   string
	// Started is when the clock started ("lundi 23 novembre à 10 h 12"),
	// Due when it runs out, Used the share used at the alert ("75 %"), Late
	// how late it is ("2 h 30 ouvrées"; escalations).
	Started string
	Due     string
	Used    string
	Late    string
	// Action says how to stop the clock ("répondre au client par une note
	// publique dans Redmine").
	Action string
}

// Rendered is an alert ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// RenderDeadlineAlert lays out a deadline alert: a subject, a plain-text
// body and an HTML alternative.
func RenderDeadlineAlert(a DeadlineAlert) (Rendered, error) {
	var name string
	switch a.Kind {
	case KindWarning:
		name = "deadline_warning"
	case KindEscalation:
		name = "deadline_escalation"
	default:
		return Rendered{}, fmt.Errorf("notify: unknown alert kind %q", a.Kind)
	}
	var subj, text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&subj, name+".subject", a); err != nil {
		return Rendered{}, fmt.Errorf("notify: %s subject: %w", name, err)
	}
	if err := textTemplates.ExecuteTemplate(&text, name+".txt.tmpl", a); err != nil {
		return Rendered{}, fmt.Errorf("notify: %s text: %w", name, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html.tmpl", a); err != nil {
		return Rendered{}, fmt.Errorf("notify: %s html: %w", name, err)
	}
	return Rendered{
		Subject: strings.Join(strings.Fields(subj.String()), " "),
		Text:    strings.TrimLeft(text.String(), "\n"),
		HTML:    html.String(),
	}, nil
}
