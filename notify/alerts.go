package notify

import (
	"embed"
	"fmt"

	"passerelle/redmine"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// embedded is this package's templates as built in (no override).
var embedded = func() *Templates {
	t, err := ParseTemplates(templateFS, "")
	if err != nil {
		panic(err)
	}
	return t
}()

// LoadTemplates builds this package's mail templates (staff deadline alerts,
// invitations) for a configuration: the embedded ones redefined by the files
// of notifications.templates_dir (dir; "" for none). An override that does
// not parse, or with which one of these mails no longer renders, is an error:
// it is refused at start and at reload, not found at the first alert.
func LoadTemplates(dir string) (*Templates, error) {
	if dir == "" {
		return embedded, nil
	}
	t, err := ParseTemplates(templateFS, dir)
	if err != nil {
		return nil, err
	}
	for _, a := range []DeadlineAlert{{Kind: KindWarning}, {Kind: KindEscalation}} {
		if _, err := t.DeadlineAlert(a); err != nil {
			return nil, fmt.Errorf("notifications.templates_dir: %w", err)
		}
	}
	if _, err := t.Invitation(Invitation{}); err != nil {
		return nil, fmt.Errorf("notifications.templates_dir: %w", err)
	}
	return t, nil
}

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
	IssueID  redmine.IssueID
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

// RenderDeadlineAlert lays out a deadline alert with the embedded templates.
func RenderDeadlineAlert(a DeadlineAlert) (Rendered, error) { return embedded.DeadlineAlert(a) }

// DeadlineAlert lays out a deadline alert: a subject, a plain-text body and
// an HTML alternative.
func (t *Templates) DeadlineAlert(a DeadlineAlert) (Rendered, error) {
	switch a.Kind {
	case KindWarning:
		return t.Render("deadline_warning", a)
	case KindEscalation:
		return t.Render("deadline_escalation", a)
	default:
		return Rendered{}, fmt.Errorf("notify: unknown alert kind %q", a.Kind)
	}
}
