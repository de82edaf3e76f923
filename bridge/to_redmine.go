package bridge

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// This file holds the pure converters from the customer space to Redmine.
// The jobs that call them are in worker_mirror.go.

// IssueSubject is the Redmine subject of a request: it carries the reference
// so staff can search it, within Redmine's 255 characters.
func IssueSubject(req espaceclient.Request) string {
	s := fmt.Sprintf("[%s] %s", req.Reference, oneLine(req.Subject))
	return truncateRunes(s, 255)
}

// IssueDescription is the Redmine description of a request: who wrote, the
// request's fields, then the client's own text. previous is the request this
// one follows (a client wrote again on a closed request), if any.
//
// What the client wrote or chose for itself (its name and e-mail, which are
// Kratos traits it edits, the exact location, the text) is shown as the
// client's declaration, in verbatim blocks that Redmine does not format (see
// markup.go); the rest is Passerelle's own text. The request's marker is the
// last line, out of the client's reach.
func IssueDescription(req espaceclient.Request, first espaceclient.Message, cat config.Category, needsAttention string, previous *espaceclient.Request) string {
	var b strings.Builder
	if needsAttention != "" {
		fmt.Fprintf(&b, "*À traiter par l'équipe : %s*\n\n", needsAttention)
	}
	if previous != nil {
		fmt.Fprintf(&b, "Suite de la demande %s", previous.Reference)
		if previous.RedmineIssueID != nil {
			fmt.Fprintf(&b, " (#%d)", *previous.RedmineIssueID)
		}
		b.WriteString(", close, sur laquelle le client a écrit de nouveau.\n\n")
	}
	fmt.Fprintf(&b, "Demande déposée dans l'espace client par un %s.\n\n", espaceclient.RoleLabel(req.AuthorRole))
	field := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "* %s : %s\n", label, oneLine(v))
		}
	}
	field("Référence espace client", req.Reference)
	field("Catégorie", cat.Label)
	field("Lot", req.Lot)
	field("Mandat", req.Mandate)
	field("Urgence", espaceclient.UrgencyLabel(req.Urgency))
	field("Qui paie", espaceclient.PayerLabel(req.Payer))
	b.WriteString("\nDéclaré par le client (non vérifié) :\n\n")
	decl := []string{"Nom : " + oneLine(req.AuthorName), "E-mail : " + oneLine(req.AuthorEmail)}
	if req.Location != "" {
		decl = append(decl, "Emplacement exact : "+oneLine(req.Location))
	}
	b.WriteString(verbatimBlock(strings.Join(decl, "\n")))
	b.WriteString("\n\n----\n\nTexte du client :\n\n")
	b.WriteString(verbatimBlock(first.Body))
	if n := len(first.Attachments); n > 0 {
		fmt.Fprintf(&b, "\n\n(%d pièce(s) jointe(s) par le client)", n)
	}
	fmt.Fprintf(&b, "\n\n%s", markerLine(requestMarker(req.ID)))
	return b.String()
}

// requestMarker ends the description of every issue Passerelle creates.
// A retry adopts an issue found by reference only if it carries the marker
// of the same request (as its last line: hasTrailingMarker).
func requestMarker(requestID string) string {
	return "Identifiant interne espace client : " + requestID
}

// messageMarker is written as the last line of every note Passerelle adds
// for a client action. Finding it there in a journal of the sync user is how
// a retry knows the note already exists (see MirrorMessageWorker); a copy the
// client typed sits inside the client's text and does not count.
func messageMarker(messageID string) string {
	return "Réf. message espace client : " + messageID
}

// declaredName is the line that names the author of a note: the name is a
// trait the client edits, so it is labelled as the client's declaration and
// written without any markup.
func declaredName(name string) string {
	return "Nom déclaré par le client : " + inlineText(name)
}

// ClientNote is the journal note for a client follow-up.
func ClientNote(req espaceclient.Request, msg espaceclient.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Message via l'espace client (%s)*\n%s\n\n", espaceclient.RoleLabel(req.AuthorRole), declaredName(msg.AuthorName))
	b.WriteString(verbatimBlock(msg.Body))
	if n := len(msg.Attachments); n > 0 {
		fmt.Fprintf(&b, "\n\n(%d pièce(s) jointe(s))", n)
	}
	fmt.Fprintf(&b, "\n\n%s", markerLine(messageMarker(msg.ID)))
	return b.String()
}

// CloseNote is the journal note when the client closes a request.
func CloseNote(req espaceclient.Request, msg espaceclient.Message) string {
	return fmt.Sprintf("*Demande clôturée depuis l'espace client (%s).*\n%s\n\n%s",
		espaceclient.RoleLabel(req.AuthorRole), declaredName(req.AuthorName), markerLine(messageMarker(msg.ID)))
}

// AckBody is the automatic acknowledgment the client sees once the request
// is in Redmine. RIB and address changes say who handles them.
func AckBody(cat config.Category, issueID redmine.IssueID) string {
	if cat.Redmine.Parent == config.ParentMandate {
		return fmt.Sprintf("Votre demande « %s » a bien été reçue et transmise au service comptabilité sous le n° %d. Nous vous confirmerons la prise en compte du changement.", cat.Label, issueID)
	}
	return fmt.Sprintf("Votre demande a bien été enregistrée sous le n° %d. Nous revenons vers vous rapidement.", issueID)
}

// findMarkedJournal returns the id of the sync user's journal that ends with
// the marker of messageID, 0 when there is none. A journal that merely
// contains it (a client who typed a copy into a message) does not count.
func findMarkedJournal(is redmine.Issue, syncUserID int, messageID string) redmine.JournalID {
	marker := messageMarker(messageID)
	for _, j := range is.Journals {
		if j.User.ID == syncUserID && hasTrailingMarker(j.Notes, marker) {
			return j.ID
		}
	}
	return 0
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
