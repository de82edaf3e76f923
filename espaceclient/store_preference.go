package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Preferences are what a client chose for the mails about their requests.
type Preferences struct {
	// EmailMode is EmailImmediate or EmailDaily.
	EmailMode string
	// FollowLots: an owner also hears about the requests filed on their lots.
	FollowLots bool
	// UpdatedAt is zero while the client never saved the page.
	UpdatedAt time.Time
}

// Values of Preferences.EmailMode.
const (
	EmailImmediate = "immediate"
	EmailDaily     = "daily"
	// EmailNone: no mail but the acknowledgment of a new request.
	EmailNone = "none"
)

// DefaultPreferences apply to a client who never saved the page.
var DefaultPreferences = Preferences{EmailMode: EmailImmediate, FollowLots: true}

// GetPreferences returns the identity's preferences, or DefaultPreferences.
func (s *Store) GetPreferences(ctx context.Context, identityID string) (Preferences, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	p := DefaultPreferences
	err := s.pool.QueryRow(ctx, `
		SELECT email_mode, follow_lots, updated_at FROM client_preferences WHERE identity_id = $1`,
		identityID).Scan(&p.EmailMode, &p.FollowLots, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultPreferences, nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("reading preferences of identity %s: %w", identityID, err)
	}
	return p, nil
}

// SavePreferences stores the identity's preferences (validated by the caller).
func (s *Store) SavePreferences(ctx context.Context, identityID string, p Preferences, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		INSERT INTO client_preferences (identity_id, email_mode, follow_lots, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (identity_id) DO UPDATE
		SET email_mode = EXCLUDED.email_mode, follow_lots = EXCLUDED.follow_lots, updated_at = EXCLUDED.updated_at`,
		identityID, p.EmailMode, p.FollowLots, now)
	if err != nil {
		return fmt.Errorf("saving preferences of identity %s: %w", identityID, err)
	}
	return nil
}

// UnsubscribeByToken sets to EmailNone the preferences of the client whose
// unsubscribe token it is; false when no client has it.
func (s *Store) UnsubscribeByToken(ctx context.Context, token string, now time.Time) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		UPDATE client_preferences SET email_mode = 'none', updated_at = $2 WHERE unsubscribe_token = $1`, token, now)
	if err != nil {
		return false, fmt.Errorf("unsubscribing by token: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UnsubscribeTokenExists tells whether a client has this token.
func (s *Store) UnsubscribeTokenExists(ctx context.Context, token string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM client_preferences WHERE unsubscribe_token = $1)`, token).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("looking up an unsubscribe token: %w", err)
	}
	return ok, nil
}
