package espaceclient

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"passerelle/config"
)

// Length bounds of the short fields.
const (
	maxLocationLength = 200
	maxIDFieldLength  = 100
)

// validateNewRequest checks and normalizes every field of a new request for
// identity id. It returns the normalized request and its category.
func validateNewRequest(cfg *config.Config, id Identity, in NewRequest) (NewRequest, config.Category, *Error) {
	var out NewRequest
	catID := strings.TrimSpace(in.Category)
	if catID == "" {
		return out, config.Category{}, invalid("required", "category", "Choisissez la catégorie de votre demande.")
	}
	cat, ok := cfg.Category(catID)
	if !ok {
		return out, config.Category{}, invalid("unknown_category", "category",
			"La catégorie « %s » n'existe pas.", truncateRunes(cleanLine(catID), 60))
	}
	if !cat.Allows(id.Role) {
		return out, cat, categoryNotAllowed(cat)
	}
	out.Category = cat.ID

	var err *Error
	if out.Subject, err = cleanField("subject", "L'objet", in.Subject, false, cfg.Uploads.MaxSubjectLength); err != nil {
		return out, cat, err
	}
	if out.Subject == "" {
		return out, cat, invalid("required", "subject", "Indiquez l'objet de votre demande.")
	}
	if out.Body, err = cleanBody(cfg, in.Body); err != nil {
		return out, cat, err
	}
	if out.Location, err = cleanField("location", "L'emplacement", in.Location, false, maxLocationLength); err != nil {
		return out, cat, err
	}
	if out.Location == "" && cat.Needs("location") {
		return out, cat, invalid("required", "location",
			"Précisez l'emplacement exact (logement ou partie commune, pièce, étage…).")
	}
	if out.Payer, err = choice("payer", "qui prend en charge les frais", in.Payer, Payers); err != nil {
		return out, cat, err
	}
	if out.Payer == "" && cat.Needs("payer") {
		return out, cat, invalid("required", "payer",
			"Indiquez qui prend en charge les frais : le locataire, le propriétaire, le syndic ou un autre intervenant.")
	}
	if out.Urgency, err = choice("urgency", "l'urgence", in.Urgency, Urgencies); err != nil {
		return out, cat, err
	}
	if out.Urgency == "" && cat.Needs("urgency") {
		return out, cat, invalid("required", "urgency", "Indiquez l'urgence : urgent, élevée ou normale.")
	}
	if out.Lot, err = held("lot", in.Lot, id.Lots, cat.Needs("lot")); err != nil {
		return out, cat, err
	}
	if out.Mandate, err = held("mandate", in.Mandate, id.Mandates, cat.Needs("mandate")); err != nil {
		return out, cat, err
	}
	return out, cat, nil
}

func categoryNotAllowed(cat config.Category) *Error {
	msg := fmt.Sprintf("La catégorie « %s » n'est pas proposée à votre compte.", cat.Label)
	if len(cat.Roles) == 1 {
		switch cat.Roles[0] {
		case config.RoleOwner:
			msg = fmt.Sprintf("La catégorie « %s » est réservée aux propriétaires.", cat.Label)
		case config.RoleTenant:
			msg = fmt.Sprintf("La catégorie « %s » est réservée aux locataires.", cat.Label)
		}
	}
	return &Error{Status: http.StatusForbidden, Code: "category_not_allowed", Field: "category", Message: msg}
}

// held checks a lot or mandate against those the identity holds. When the
// field is required, empty, and the identity holds exactly one, that one is
// taken.
func held(field, value string, holds []string, required bool) (string, *Error) {
	v := strings.TrimSpace(value)
	noun, nouns := "lot", "lots"
	if field == "mandate" {
		noun, nouns = "mandat", "mandats"
	}
	if v == "" {
		if !required {
			return "", nil
		}
		switch len(holds) {
		case 0:
			return "", invalid("required", field,
				"Cette catégorie demande un %s, mais aucun %s n'est rattaché à votre compte. Merci de contacter l'agence.", noun, noun)
		case 1:
			return holds[0], nil
		}
		return "", invalid("required", field, "Indiquez le %s concerné parmi les vôtres : %s.", noun, strings.Join(holds, ", "))
	}
	if !slices.Contains(holds, v) {
		return "", invalid("unknown_"+field, field, "Le %s « %s » ne fait pas partie de vos %s.", noun, truncateRunes(cleanLine(v), 60), nouns)
	}
	return v, nil
}

// choice checks a value against a list of options (French aliases accepted).
func choice(field, what, value string, opts []Option) (string, *Error) {
	v := strings.ToLower(strings.TrimSpace(value))
	if v == "" {
		return "", nil
	}
	if a, ok := optionAliases[v]; ok {
		v = a
	}
	ids := make([]string, len(opts))
	for i, o := range opts {
		if o.ID == v {
			return v, nil
		}
		ids[i] = o.ID
	}
	return "", invalid("invalid_value", field, "« %s » n'est pas une valeur possible pour %s : choisissez parmi %s.",
		truncateRunes(cleanLine(value), 40), what, strings.Join(ids, ", "))
}

func cleanBody(cfg *config.Config, body string) (string, *Error) {
	b, err := cleanField("body", "Le message", body, true, cfg.Uploads.MaxBodyLength)
	if err != nil {
		return "", err
	}
	if b == "" {
		return "", invalid("required", "body", "Écrivez votre message.")
	}
	return b, nil
}
