package notify

// Invitation is what the mail inviting a client to the customer space says.
// Every field is already written for people, in French. Link and Code are
// secrets: the mail is the only place they go.
type Invitation struct {
	// Agency signs the message and names who invites ("Agence Exemple").
	Agency string
	// Name is the client's name ("Camille Martin"; may be empty).
	Name string
	// Email is the client's login.
	Email string
	// Link opens the recovery page; Code is typed there.
	Link string
	Code string
	// Expires is when both stop working ("jeudi 5 décembre à 18 h 30").
	Expires string
	// LoginURL is the customer space's sign-in page, for later visits.
	LoginURL string
}

// RenderInvitation lays out an invitation with the embedded templates.
func RenderInvitation(inv Invitation) (Rendered, error) { return embedded.Invitation(inv) }

// Invitation lays out an invitation: a subject, a plain-text body and an
// HTML alternative.
func (t *Templates) Invitation(inv Invitation) (Rendered, error) { return t.Render("invitation", inv) }
