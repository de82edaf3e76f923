package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
)

// Who may do what with a request (docs/SECURITY.md, "Customer space"):
//
//   - its author reads it, always, even after losing the rights it was filed
//     with (an old RIB request stays readable);
//   - its author writes to it (follow-up, close, reopen, linked request) only
//     while the identity's CURRENT metadata_public still allows it: the role
//     may use the category, and the lot and mandate it was filed on are still
//     held (writeRefusal);
//   - an owner reads, read-only, a request another client filed on one of the
//     owner's lots only when its category is shared with owners
//     (categories[].shared_with_owners);
//   - nobody else sees it (404).
//
// The identity is read from Kratos on every call (whoami for the API, the
// admin API for the inbound webhook), so a right removed in Kratos is
// enforced at the next call.

// access is what an identity may do with a request.
type access int

const (
	accessNone   access = iota
	accessRead          // an owner reading a shared request filed on one of the owner's lots
	accessAuthor        // the author: read, and write while its rights hold (writeRefusal)
)

func accessOf(cfg *config.Config, id Identity, r Request) access {
	switch {
	case id.ID != "" && r.IdentityID == id.ID:
		return accessAuthor
	case id.Role == config.RoleOwner && r.Lot != "" && id.HoldsLot(r.Lot) && sharedWithOwners(cfg, r.Category):
		return accessRead
	}
	return accessNone
}

// sharedWithOwners tells whether the owners of a request's lot may read it:
// its category exists and is marked shared_with_owners.
func sharedWithOwners(cfg *config.Config, category string) bool {
	cat, ok := cfg.Category(category)
	return ok && cat.SharedWithOwners
}

// sharedCategories lists the ids of the categories shared with owners.
func sharedCategories(cfg *config.Config) []string {
	out := []string{}
	for _, c := range cfg.Categories {
		if c.SharedWithOwners {
			out = append(out, c.ID)
		}
	}
	return out
}

// CanReply tells whether id may post messages on r and close it now: only
// its author, and only while the identity still holds the rights the request
// needs (see writeRefusal).
func CanReply(cfg *config.Config, id Identity, r Request) bool {
	return accessOf(cfg, id, r) == accessAuthor && writeRefusal(cfg, id, r) == nil
}

// errRightsChanged is the 403 of a write by the author of a request whose
// rights no longer hold; Message says which one.
func errRightsChanged(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: "rights_changed",
		Message: fmt.Sprintf(format, args...) +
			" Vous pouvez toujours consulter cette demande ; pour toute nouvelle démarche, contactez l'agence."}
}

// writeRefusal checks the author's CURRENT rights on r, before any write:
// the identity's role may still use the category (when the category is no
// longer configured, the role must be the one the request was filed with),
// and the lot and the mandate of the request are still among the identity's.
// nil means the write may go on.
func writeRefusal(cfg *config.Config, id Identity, r Request) *Error {
	if cat, ok := cfg.Category(r.Category); ok {
		if !cat.Allows(id.Role) {
			return errRightsChanged("Vous ne pouvez plus écrire dans cette demande : la catégorie « %s » n'est pas proposée à votre compte (%s).",
				cat.Label, RoleLabel(id.Role))
		}
	} else if id.Role != r.AuthorRole {
		return errRightsChanged("Vous ne pouvez plus écrire dans cette demande : elle a été déposée avec un compte %s et votre compte est désormais %s.",
			RoleLabel(r.AuthorRole), RoleLabel(id.Role))
	}
	if r.Lot != "" && !id.HoldsLot(r.Lot) {
		return errRightsChanged("Vous ne pouvez plus écrire dans cette demande : le lot « %s » n'est plus rattaché à votre compte.", r.Lot)
	}
	if r.Mandate != "" && !id.HoldsMandate(r.Mandate) {
		return errRightsChanged("Vous ne pouvez plus écrire dans cette demande : le mandat « %s » n'est plus rattaché à votre compte.", r.Mandate)
	}
	return nil
}

// writableCheck is what a write to r needs from id: 404 when id may not see
// it, 403 read_only for an owner reading it, 403 rights_changed for an author
// who lost the rights it needs. nil: id may write.
func writableCheck(cfg *config.Config, id Identity, r Request) error {
	switch accessOf(cfg, id, r) {
	case accessNone:
		return errRequestNotFound
	case accessRead:
		return errReadOnly
	}
	if e := writeRefusal(cfg, id, r); e != nil {
		return e
	}
	return nil
}

// lockWritable locks a request in tx for a write by its author, and checks
// the write is allowed (writableCheck).
func lockWritable(ctx context.Context, tx pgx.Tx, cfg *config.Config, id Identity, requestID string) (Request, error) {
	req, err := getRequest(ctx, tx, requestID, true)
	if errors.Is(err, ErrNotFound) {
		return Request{}, errRequestNotFound
	}
	if err != nil {
		return Request{}, err
	}
	if err := writableCheck(cfg, id, req); err != nil {
		return Request{}, err
	}
	return req, nil
}

// categoryVisibility is what a client of that role is told, on the form,
// about who will read a request of cat ("" for owners: the text is for
// tenants, whose landlord may read).
func categoryVisibility(role config.Role, cat config.Category) string {
	if role != config.RoleTenant {
		return ""
	}
	if cat.SharedWithOwners {
		return VisibilitySharedCategory
	}
	return VisibilityPrivateCategory
}

// requestVisibility says to the caller who reads r besides the agency.
func requestVisibility(cfg *config.Config, id Identity, r Request) string {
	if accessOf(cfg, id, r) == accessRead {
		return VisibilityOwnerReader
	}
	if r.Lot != "" && sharedWithOwners(cfg, r.Category) {
		if r.AuthorRole == config.RoleOwner {
			return fmt.Sprintf("Les autres propriétaires du lot « %s » peuvent lire cette demande et les réponses de l'agence, sans pouvoir y répondre.", r.Lot)
		}
		return fmt.Sprintf("Le propriétaire du lot « %s » peut lire cette demande et les réponses de l'agence, sans pouvoir y répondre.", r.Lot)
	}
	return VisibilityPrivate
}

// replyRefusal is why the caller may not reply to r ("" when it may).
func replyRefusal(cfg *config.Config, id Identity, r Request) string {
	var e *Error
	if err := writableCheck(cfg, id, r); errors.As(err, &e) {
		return e.Message
	}
	return ""
}

func checkRole(id Identity) *Error {
	if id.ID == "" || !validUUID(id.ID) || (id.Role != config.RoleTenant && id.Role != config.RoleOwner) {
		return errNoRole
	}
	return nil
}
