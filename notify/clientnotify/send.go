package clientnotify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"passerelle/kratos"
)

// send carries out one immediate notification: lock its row, check the
// client may still be mailed (and where), send, record the outcome, all in
// one transaction (see the package doc for the one duplicate window).
func (s *Service) send(ctx context.Context, id string, attempt int) error {
	rt := s.rt.Load()
	var result error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, ok, err := s.store.lockNotification(ctx, tx, id)
		if err != nil {
			return err
		}
		if !ok {
			result = river.JobSnooze(10 * time.Second) // another worker has it
			return nil
		}
		if n.Status != "pending" {
			return nil // done by an earlier attempt
		}
		token, err := s.store.unsubscribeToken(ctx, tx, n.IdentityID)
		if err != nil {
			return err
		}
		status, lastErr, retryErr := s.deliver(ctx, rt, n, attempt, token)
		if retryErr != nil {
			// Recorded, then retried by River with backoff.
			result = retryErr
			status, lastErr = "pending", retryErr.Error()
		}
		return s.store.setOutcome(ctx, tx, []string{n.ID}, status, lastErr, s.now())
	})
	if err != nil {
		return fmt.Errorf("client notification %s: %w", id, err)
	}
	return result
}

// deliver checks the recipient and sends one notification's mail. It returns
// the row's outcome (sent, failed, skipped, with why), or retryErr for a
// temporary failure worth another attempt.
func (s *Service) deliver(ctx context.Context, rt *runtime, n notification, attempt int, token string) (status, why string, retryErr error) {
	log := s.log.WithField("notification_id", n.ID).WithField("event", string(n.Event)).WithField("request_id", n.RequestID)
	if rt.cfg.Notifications.Disabled || rt.mailer == nil {
		log.Info("client notification skipped: mail to clients is off")
		return "skipped", "mail to clients is off", nil
	}
	ident, err := s.directory.ByID(ctx, n.IdentityID)
	switch {
	case errors.Is(err, kratos.ErrNotFound), errors.Is(err, kratos.ErrIdentityInactive), errors.Is(err, kratos.ErrNoRole):
		log.WithError(err).Info("client notification skipped: the identity is gone or deactivated")
		return "skipped", err.Error(), nil
	case err != nil && attempt >= sendMaxAttempts:
		return "failed", "reading identity: " + err.Error(), nil
	case err != nil:
		return "", "", fmt.Errorf("reading identity: %w", err)
	}
	if ident.Email != "" {
		n.Email = ident.Email // the current login address
	}
	n.RecipientName = ident.Name
	if n.Follower && (ident.Role != "owner" || !ident.HoldsLot(n.Lot)) {
		log.Info("client notification skipped: the owner no longer holds the lot")
		return "skipped", "no longer an owner of lot " + n.Lot, nil
	}
	msg, err := eventMailWith(rt.tpl, rt.site, n, token)
	if err != nil {
		return "failed", err.Error(), nil
	}
	retry, err := rt.mailer.Notify(ctx, msg)
	switch {
	case err == nil:
		log.Info("client notification sent")
		return "sent", "", nil
	case retry && attempt < sendMaxAttempts:
		log.WithError(err).Warn("client notification not sent yet: will retry")
		return "", "", err
	default:
		log.WithError(err).Error("client notification failed for good")
		return "failed", err.Error(), nil
	}
}
