package kratos

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	ory "github.com/ory/kratos-client-go"

	"passerelle/config"
	"passerelle/internal/textnorm"
)

// Identity is a client as Kratos knows it: behind a session, or found in the
// directory. Role, lots and mandates come from the identity's metadata_public
// (only the Kratos admin API writes it); traits (e-mail, name) are the user's
// own and are never used for authorization.
type Identity struct {
	ID       string      `json:"id"`
	Email    string      `json:"email"`
	Name     string      `json:"name"`
	Role     config.Role `json:"role"`
	Lots     []string    `json:"lots"`
	Mandates []string    `json:"mandates"`
}

// HoldsLot tells whether the identity holds a lot.
func (id Identity) HoldsLot(lot string) bool { return slices.Contains(id.Lots, lot) }

// HoldsMandate tells whether the identity holds a mandate.
func (id Identity) HoldsMandate(m string) bool { return slices.Contains(id.Mandates, m) }

// kratosTraits are the traits of the identity schema (deploy/kratos/identity.schema.json).
type kratosTraits struct {
	Email string `json:"email"`
	Name  struct {
		First string `json:"first"`
		Last  string `json:"last"`
	} `json:"name"`
}

// kratosMetadata is the identity's metadata_public, written only through the
// Kratos admin API: {"role":"tenant"|"owner","lots":[...],"mandates":[...]}.
type kratosMetadata struct {
	Role     string     `json:"role"`
	Lots     stringList `json:"lots"`
	Mandates stringList `json:"mandates"`
}

// stringList accepts a JSON list of strings or numbers (a lot number typed
// as 12 by an admin) and keeps each non-empty value once.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	seen := map[string]bool{}
	out := []string{}
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(r, &n); err != nil {
				return fmt.Errorf("expected a list of strings: %w", err)
			}
			s = n.String()
		}
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	*l = out
	return nil
}

// fromKratos builds an Identity: e-mail and name from the traits (the
// user's own, used for display and contact only), role, lots and mandates
// ONLY from metadata_public. An identity without a valid role is ErrNoRole.
func fromKratos(ki *ory.Identity) (Identity, error) {
	id := Identity{ID: ki.Id, Lots: []string{}, Mandates: []string{}}
	var tr kratosTraits
	if b, err := json.Marshal(ki.Traits); err == nil {
		_ = json.Unmarshal(b, &tr)
	}
	id.Email = strings.TrimSpace(tr.Email)
	id.Name = textnorm.Line(strings.TrimSpace(tr.Name.First + " " + tr.Name.Last))
	var md kratosMetadata
	if ki.MetadataPublic != nil {
		b, err := json.Marshal(ki.MetadataPublic)
		if err != nil || json.Unmarshal(b, &md) != nil {
			return id, ErrNoRole
		}
	}
	role := config.Role(strings.TrimSpace(md.Role))
	if role != config.RoleTenant && role != config.RoleOwner {
		return id, ErrNoRole
	}
	id.Role = role
	if md.Lots != nil {
		id.Lots = md.Lots
	}
	if md.Mandates != nil {
		id.Mandates = md.Mandates
	}
	if !textnorm.IsUUID(id.ID) {
		return id, fail(ErrNoSession, fmt.Errorf("kratos identity id %q is not a uuid", id.ID))
	}
	return id, nil
}
