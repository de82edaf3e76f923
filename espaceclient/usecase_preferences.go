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
	case EmailImmediate, EmailDaily:
	case "":
		return Preferences{}, invalid("required", "email_mode", "Choisissez quand recevoir les e-mails : à chaque nouvelle, ou une fois par jour.")
	default:
		return Preferences{}, invalid("invalid_value", "email_mode",
			"« %s » n'est pas un choix : choisissez immediate (à chaque nouvelle) ou daily (une fois par jour).", truncateRunes(cleanLine(p.EmailMode), 40))
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
