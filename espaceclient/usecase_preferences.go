package espaceclient

import (
	"context"
	"strings"

	"passerelle/config"
)

// Preferences returns the caller's preferences (DefaultPreferences until saved).
func (s *Service) Preferences(ctx context.Context, id Identity) (Preferences, error) {
	if err := checkRole(id); err != nil {
		return Preferences{}, err
	}
	p, err := s.store.GetPreferences(ctx, id.ID)
	if err != nil {
		return Preferences{}, s.storeError(err)
	}
	return p, nil
}

// SavePreferences validates and stores the caller's choice: emailMode is
// "immediate" or "daily"; followLots is kept for owners only (a tenant has no
// lot to follow).
func (s *Service) SavePreferences(ctx context.Context, id Identity, emailMode string, followLots bool) (Preferences, error) {
	if err := checkRole(id); err != nil {
		return Preferences{}, err
	}
	p := Preferences{EmailMode: strings.TrimSpace(emailMode), FollowLots: followLots}
	switch p.EmailMode {
	case EmailImmediate, EmailDaily, EmailNone:
	case "":
		return Preferences{}, invalid("required", "email_mode", "Choisissez quand recevoir les e-mails : à chaque nouvelle, ou une fois par jour.")
	default:
		return Preferences{}, invalid("invalid_value", "email_mode",
			"« %s » n'est pas un choix : choisissez immediate (à chaque nouvelle), daily (une fois par jour) ou none (aucun e-mail).", truncateRunes(cleanLine(p.EmailMode), 40))
	}
	if id.Role != config.RoleOwner {
		p.FollowLots = DefaultPreferences.FollowLots
	}
	now := ts(s.now())
	if err := s.store.SavePreferences(ctx, id.ID, p, now); err != nil {
		return Preferences{}, s.storeError(err)
	}
	p.UpdatedAt = now
	return p, nil
}

// unsubscribeTokenShape: the tokens notify/clientnotify makes (32 random
// bytes, base64url without padding).
func unsubscribeTokenShape(token string) bool {
	if len(token) != 43 {
		return false
	}
	for _, c := range token {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// UnsubscribeTokenValid tells whether token is a client's unsubscribe token
// (the GET of the confirmation page: it changes nothing).
func (s *Service) UnsubscribeTokenValid(ctx context.Context, token string) (bool, error) {
	if !unsubscribeTokenShape(token) {
		return false, nil
	}
	ok, err := s.store.UnsubscribeTokenExists(ctx, token)
	if err != nil {
		return false, s.storeError(err)
	}
	return ok, nil
}

// Unsubscribe stops every mail but the acknowledgments for the client whose
// token it is (RFC 8058 one-click, or the page's button); false for an
// unknown token. Doing it twice is fine.
func (s *Service) Unsubscribe(ctx context.Context, token string) (bool, error) {
	if !unsubscribeTokenShape(token) {
		return false, nil
	}
	ok, err := s.store.UnsubscribeByToken(ctx, token, ts(s.now()))
	if err != nil {
		return false, s.storeError(err)
	}
	return ok, nil
}
