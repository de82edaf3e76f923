// Every French label the customer space shows a client, in one place: the
// options of the choice fields, the names of statuses and roles, the texts of
// the thread events it writes itself, who reads a request and whether it
// reached the agency. Refusal messages are with their errors (errors.go,
// validate.go, authz.go).

package espaceclient

import (
	"passerelle/config"
)

// Option is one allowed value of a choice field, with its French label.
type Option struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Payers are the values of NewRequest.Payer: who pays for a repair or works.
var Payers = []Option{
	{"tenant", "Le locataire"},
	{"owner", "Le propriétaire"},
	{"syndic", "Le syndic de copropriété"},
	{"other", "Un autre intervenant"},
	// The client does not know: finding who pays is then the agency's first
	// task (seeds, "Procédure réparations").
	{"unknown", "Je ne sais pas (à déterminer par l'agence)"},
}

// Urgencies are the values of NewRequest.Urgency.
var Urgencies = []Option{
	{"urgent", "Urgent"},
	{"high", "Élevée"},
	{"normal", "Normale"},
}

// French spellings accepted as well, so a form or a gateway may send them.
var optionAliases = map[string]string{
	"locataire": "tenant", "proprietaire": "owner", "propriétaire": "owner", "bailleur": "owner", "autre": "other", "inconnu": "unknown", "je ne sais pas": "unknown",
	"urgente": "urgent", "haute": "high", "elevee": "high", "élevée": "high", "normale": "normal",
}

func optionLabel(opts []Option, id string) string {
	for _, o := range opts {
		if o.ID == id {
			return o.Label
		}
	}
	return id
}

// PayerLabel returns the French label of a payer id ("owner" → "Le propriétaire").
func PayerLabel(id string) string { return optionLabel(Payers, id) }

// UrgencyLabel returns the French label of an urgency id ("high" → "Élevée").
func UrgencyLabel(id string) string { return optionLabel(Urgencies, id) }

// StatusLabel returns what the client sees for a status: à traiter, en cours,
// en attente de votre réponse, clôturé.
func StatusLabel(cs config.ClientStatus) string {
	switch cs {
	case config.StatusNew:
		return "à traiter"
	case config.StatusInProgress:
		return "en cours"
	case config.StatusWaitingClient:
		return "en attente de votre réponse"
	case config.StatusClosed:
		return "clôturé"
	}
	return string(cs)
}

// RoleLabel returns the French name of a role.
func RoleLabel(r config.Role) string {
	switch r {
	case config.RoleTenant:
		return "locataire"
	case config.RoleOwner:
		return "propriétaire"
	}
	return string(r)
}

// Texts of the thread events the customer space writes itself.
const (
	// ReopenedBody is the event following a client's message on a closed request.
	ReopenedBody = "Demande rouverte par votre message."
	// closedByClientFormat is the event of a client closing a request: the
	// date (02/01/2006) and the time (15:04), in the agency's time zone.
	closedByClientFormat = "Demande clôturée par vous le %s à %s."
)

// French texts telling a client who can read a request (the owners' privacy
// decision: tenants are told which of their requests their landlord reads).
const (
	// VisibilitySharedCategory is shown to tenants on the form, for a
	// category shared with owners.
	VisibilitySharedCategory = "Le propriétaire de votre logement pourra lire cette demande et les réponses de l'agence, sans pouvoir y répondre."
	// VisibilityPrivateCategory is shown to tenants on the form, for a
	// category not shared with owners.
	VisibilityPrivateCategory = "Confidentielle : seuls vous et l'agence verrez cette demande ; le propriétaire de votre logement ne la voit pas."
	// VisibilityPrivate is shown on a request only its author and the agency read.
	VisibilityPrivate = "Seuls vous et l'agence voyez cette demande."
	// VisibilityOwnerReader is shown to an owner reading a request filed on one of the owner's lots.
	VisibilityOwnerReader = "Demande déposée sur l'un de vos lots : vous pouvez la consulter, seul son auteur peut y répondre."
)

// Transmission labels: whether the request has reached the agency's tools.
const (
	TransmissionPending = "en cours de transmission"
	TransmissionDone    = "transmise à l'agence"
)
