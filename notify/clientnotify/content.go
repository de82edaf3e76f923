package clientnotify

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"

	"passerelle/espaceclient"
	"passerelle/notify"
	"passerelle/redmine"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// embedded is this package's templates as built in (no override).
var embedded = func() *notify.Templates {
	t, err := notify.ParseTemplates(templateFS, "")
	if err != nil {
		panic(err)
	}
	return t
}()

// CheckTemplates says whether the clients' mails still render with the
// overrides of notifications.templates_dir (dir): nil when they do.
func CheckTemplates(dir string) error {
	_, err := loadTemplates(dir)
	return err
}

// loadTemplates builds the templates of a configuration: the embedded ones,
// redefined by the files of notifications.templates_dir (dir). An override
// that does not parse, or that breaks a mail, is an error.
func loadTemplates(dir string) (*notify.Templates, error) {
	if dir == "" {
		return embedded, nil
	}
	t, err := notify.ParseTemplates(templateFS, dir)
	if err != nil {
		return nil, err
	}
	// Every mail must still render: try each with sample data.
	issue := redmine.IssueID(1)
	sample := notification{ID: "x", RequestID: "r", Email: "a@b.c", Event: EventAnswer, Reference: "D-2026-000001",
		Subject: "s", AuthorName: "n", RedmineIssueID: &issue, Body: "b", Files: []string{"f.pdf"}}
	if _, err := eventMailWith(t, site{PublicURL: "https://x", Domain: "x"}, sample, "tok"); err != nil {
		return nil, fmt.Errorf("notifications.templates_dir: %w", err)
	}
	if _, err := digestMailWith(t, site{PublicURL: "https://x", Domain: "x"}, "2026-01-01", []notification{sample}, "tok"); err != nil {
		return nil, fmt.Errorf("notifications.templates_dir: %w", err)
	}
	return t, nil
}

// site is what every mail links to and signs with.
type site struct {
	PublicURL string
	Agency    string
	// Domain is the Message-ID domain (the sender's).
	Domain string
}

func (s site) requestURL(id string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/demandes/" + id
}
func (s site) preferencesURL() string { return strings.TrimRight(s.PublicURL, "/") + "/preferences" }
func (s site) unsubscribeURL(token string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/desabonnement/" + token
}

// eventView is what the event templates lay out.
type eventView struct {
	Title, Name, Lead, Quote, Subject, Reference, RedmineNumber, URL, Agency, PreferencesURL string
	QuoteHTML                                                                                htmltemplate.HTML
	Files                                                                                    []string
}

// subjectAndLead writes, in French, a mail's subject and first sentence.
func subjectAndLead(n notification) (subject, lead string) {
	ref := "[" + n.Reference + "] "
	if n.Follower {
		return followerSubjectAndLead(n, ref)
	}
	switch n.Event {
	case EventReceived:
		return ref + "Demande reçue : " + n.Subject,
			"Nous avons bien reçu votre demande. Son numéro de dossier est " + n.Reference + " : il figure dans chaque e-mail à son sujet."
	case EventTransmitted:
		num := ""
		if n.RedmineIssueID != nil {
			num = " (n° " + strconv.Itoa(int(*n.RedmineIssueID)) + ")"
		}
		return ref + "Demande transmise à l'agence" + num, "Votre demande est transmise à l'agence" + num + ", qui la traite."
	case EventAnswer:
		return ref + "Réponse de l'agence : " + n.Subject, "L'agence a répondu à votre demande :"
	case EventClosed:
		return ref + "Demande clôturée : " + n.Subject, "Votre demande est clôturée. Vous pouvez encore écrire depuis votre espace client si le problème n'est pas réglé."
	default:
		label := espaceclient.StatusLabel(n.ClientStatus)
		return ref + "Statut : " + label, "Le statut de votre demande est maintenant « " + label + " »."
	}
}

// followerSubjectAndLead is subjectAndLead for an owner following the
// requests of a lot: whose request, on which lot.
func followerSubjectAndLead(n notification, ref string) (subject, lead string) {
	whose := "la demande de " + n.AuthorName + " sur votre lot « " + n.Lot + " »"
	lot := ref + "Votre lot " + n.Lot + " : "
	switch n.Event {
	case EventAnswer:
		return lot + "réponse de l'agence", "L'agence a répondu à " + whose + " :"
	case EventClosed:
		return lot + "demande clôturée", strings.ToUpper(whose[:1]) + whose[1:] + " est clôturée."
	default:
		label := espaceclient.StatusLabel(n.ClientStatus)
		return lot + "statut " + label, "Le statut de " + whose + " est maintenant « " + label + " »."
	}
}

func (n notification) greeting() string {
	if n.RecipientName != "" {
		return n.RecipientName
	}
	return n.AuthorName
}

// digestLine is one event in a digest, in French.
func digestLine(n notification) string {
	switch n.Event {
	case EventAnswer:
		text := strings.Join(strings.Fields(n.Body), " ")
		if r := []rune(text); len(r) > 300 {
			text = string(r[:300]) + "…"
		}
		line := "Réponse de l'agence : " + text
		if n.Follower {
			line = "Sur votre lot « " + n.Lot + " », réponse de l'agence à " + n.AuthorName + " : " + text
		}
		if len(n.Files) > 0 {
			line += " (pièces jointes : " + strings.Join(n.Files, ", ") + ")"
		}
		return line
	default:
		_, lead := subjectAndLead(n)
		return lead
	}
}

// eventMail builds the mail of one immediate notification with the
// embedded templates.
func eventMail(s site, n notification, token string) (notify.Message, error) {
	return eventMailWith(embedded, s, n, token)
}

// eventMailWith builds the mail of one immediate notification.
func eventMailWith(tpl *notify.Templates, s site, n notification, token string) (notify.Message, error) {
	subject, lead := subjectAndLead(n)
	v := eventView{Title: subject, Name: n.greeting(), Lead: lead, Subject: n.Subject, Reference: n.Reference,
		URL: s.requestURL(n.RequestID), Agency: s.Agency, PreferencesURL: s.preferencesURL()}
	if n.RedmineIssueID != nil {
		v.RedmineNumber = strconv.Itoa(int(*n.RedmineIssueID))
	}
	if n.Event == EventAnswer {
		v.Quote = n.Body
		v.QuoteHTML = htmltemplate.HTML(espaceclient.RenderText(n.Body)) // escaped by RenderText
		v.Files = n.Files
	}
	msg := notify.Message{To: []string{n.Email}, Subject: subject,
		MessageID: notify.StableMessageID(s.Domain, "client-notification", n.ID)}
	if err := render(tpl, &msg, "event", v); err != nil {
		return notify.Message{}, err
	}
	thread(&msg, s, n.RequestID, token)
	msg.Headers["X-Passerelle-Reference"] = n.Reference
	msg.Headers["X-Passerelle-Event"] = string(n.Event)
	return msg, nil
}

// digestView is what the digest templates lay out.
type digestView struct {
	Title, Name, Agency, PreferencesURL string
	Requests                            []digestRequest
}

type digestRequest struct {
	Subject, Reference, URL string
	Lines                   []string
}

// digestMail builds one client's digest with the embedded templates.
func digestMail(s site, day string, rows []notification, token string) (notify.Message, error) {
	return digestMailWith(embedded, s, day, rows, token)
}

// digestMailWith builds one client's digest of rows (ordered by request).
func digestMailWith(tpl *notify.Templates, s site, day string, rows []notification, token string) (notify.Message, error) {
	v := digestView{Title: "Vos demandes : les nouvelles du " + day, Name: rows[0].greeting(), Agency: s.Agency,
		PreferencesURL: s.preferencesURL()}
	for _, n := range rows {
		if len(v.Requests) == 0 || v.Requests[len(v.Requests)-1].Reference != n.Reference {
			v.Requests = append(v.Requests, digestRequest{Subject: n.Subject, Reference: n.Reference, URL: s.requestURL(n.RequestID)})
		}
		last := &v.Requests[len(v.Requests)-1]
		last.Lines = append(last.Lines, digestLine(n))
	}
	msg := notify.Message{To: []string{rows[0].Email}, Subject: v.Title,
		MessageID: notify.StableMessageID(s.Domain, "client-digest", rows[0].IdentityID, day)}
	if err := render(tpl, &msg, "digest", v); err != nil {
		return notify.Message{}, err
	}
	msg.Headers = map[string]string{"Auto-Submitted": "auto-generated", "X-Passerelle-Event": "digest"}
	unsubscribe(&msg, s, token)
	return msg, nil
}

// render lays out a mail's text and HTML (its subject is written in Go).
func render(tpl *notify.Templates, msg *notify.Message, name string, v any) error {
	r, err := tpl.Render(name, v)
	if err != nil {
		return err
	}
	msg.Text, msg.HTML = r.Text, r.HTML
	return nil
}

// thread sets the headers every event mail carries: auto-generated, and
// In-Reply-To/References to the request's thread id, so a mail client
// groups a request's mails.
func thread(msg *notify.Message, s site, requestID, token string) {
	root := "<" + notify.StableMessageID(s.Domain, "request", requestID) + ">"
	msg.Headers = map[string]string{"Auto-Submitted": "auto-generated", "In-Reply-To": root, "References": root}
	unsubscribe(msg, s, token)
}

// unsubscribe sets List-Unsubscribe to the client's one-click address and
// List-Unsubscribe-Post (RFC 8058): a mail provider's POST there stops every
// mail but the acknowledgments, without any session; the token is the
// address's only authority. Without a token (it could not be made), the
// preferences page.
func unsubscribe(msg *notify.Message, s site, token string) {
	if token == "" {
		msg.Headers["List-Unsubscribe"] = "<" + s.preferencesURL() + ">"
		return
	}
	msg.Headers["List-Unsubscribe"] = "<" + s.unsubscribeURL(token) + ">"
	msg.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
}
