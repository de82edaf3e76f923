package identities

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"passerelle/config"
	"passerelle/internal/textnorm"
	"passerelle/kratos"
)

// maxNamePart is the identity schema's maxLength of name.first and name.last.
const maxNamePart = 100

// ParseRole reads a role as the agency writes it: tenant or owner, or in
// French locataire, bailleur, propriétaire (any case, accents optional).
func ParseRole(s string) (config.Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tenant", "locataire":
		return config.RoleTenant, nil
	case "owner", "bailleur", "proprietaire", "propriétaire":
		return config.RoleOwner, nil
	case "":
		return "", errors.New("rôle manquant (attendu : tenant ou owner)")
	}
	return "", fmt.Errorf("rôle « %s » inconnu (attendu : tenant ou owner)", strings.TrimSpace(s))
}

// NormalizeEmail checks a login e-mail (a bare address, no display name) and
// returns it in lower case, as Kratos stores identifiers.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("adresse e-mail manquante")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", fmt.Errorf("adresse e-mail « %s » invalide", s)
	}
	if len(s) > 320 {
		return "", errors.New("adresse e-mail trop longue (320 caractères au plus)")
	}
	return strings.ToLower(s), nil
}

// SplitName splits "Prénom Nom" at the first space: "Jean-Pierre de La
// Fontaine" is first "Jean-Pierre", last "de La Fontaine". One word is a last
// name.
func SplitName(s string) (first, last string) {
	s = textnorm.Line(strings.Join(strings.Fields(s), " "))
	f, l, ok := strings.Cut(s, " ")
	if !ok {
		return "", s
	}
	return f, l
}

// SplitList splits lots or mandates on seps, trimming and dropping empty
// values and repetitions.
func SplitList(s, seps string) []string {
	out := []string{}
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		if v = strings.TrimSpace(v); v != "" && !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Validate checks a client record before anything is written, in French for
// the agency: a valid e-mail (normalized in place), a name, a known role, a
// tenant with at least one lot, an owner with at least one mandate.
func Validate(c *kratos.ClientRecord) error {
	email, err := NormalizeEmail(c.Email)
	if err != nil {
		return err
	}
	c.Email = email
	c.First, c.Last = textnorm.Line(strings.TrimSpace(c.First)), textnorm.Line(strings.TrimSpace(c.Last))
	if c.First == "" && c.Last == "" {
		return errors.New("nom manquant")
	}
	if len([]rune(c.First)) > maxNamePart || len([]rune(c.Last)) > maxNamePart {
		return fmt.Errorf("prénom ou nom trop long (%d caractères au plus chacun)", maxNamePart)
	}
	c.Lots, c.Mandates = SplitList(strings.Join(c.Lots, "\x00"), "\x00"), SplitList(strings.Join(c.Mandates, "\x00"), "\x00")
	switch c.Role {
	case config.RoleTenant:
		if len(c.Lots) == 0 {
			return errors.New("un locataire (tenant) doit avoir au moins un lot")
		}
	case config.RoleOwner:
		if len(c.Mandates) == 0 {
			return errors.New("un propriétaire (owner) doit avoir au moins un mandat")
		}
	default:
		_, err := ParseRole(string(c.Role))
		if err == nil {
			err = fmt.Errorf("rôle « %s » inconnu (attendu : tenant ou owner)", c.Role)
		}
		return err
	}
	return nil
}

// ParseWhen reads a date the agency gives, in the calendar's time zone
// (Europe/Paris): YYYY-MM-DD (at 00:00 that day) or "YYYY-MM-DD HH:MM" (or
// with a T).
func ParseWhen(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date « %s » illisible (attendu : AAAA-MM-JJ, ou AAAA-MM-JJ HH:MM, heure de %s)", s, loc)
}
