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

// DigestArgs is one day's digest run (all clients in digest mode).
type DigestArgs struct {
	// Day is the agency's date of the run, YYYY-MM-DD.
	Day string `json:"day"`
}

// Kind names the job in River.
func (DigestArgs) Kind() string { return "client_digest" }

// InsertOpts: one run per day (River's default unique states include
// completed: a day's completed run is never repeated); retried while the mail
// server is down, each client's rows being marked in the transaction that
// sends their mail, so a retry sends only what is left.
func (DigestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 30, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// dailyAt is a River schedule: every day at hour:minute in loc (DST-safe:
// the wall-clock time, whatever the offset that day).
type dailyAt struct {
	hour, minute int
	loc          *time.Location
}

// Next returns the first hour:minute in loc strictly after t.
func (d dailyAt) Next(t time.Time) time.Time {
	lt := t.In(d.loc)
	next := time.Date(lt.Year(), lt.Month(), lt.Day(), d.hour, d.minute, 0, 0, d.loc)
	if !next.After(t) {
		next = time.Date(lt.Year(), lt.Month(), lt.Day()+1, d.hour, d.minute, 0, 0, d.loc)
	}
	return next
}

// RunDigest sends each client in digest mode one mail with the events
// pending before now, grouped by request. A client whose mail cannot leave
// yet keeps their rows pending and makes the run fail (River retries it;
// those already sent are not sent again).
func (s *Service) RunDigest(ctx context.Context, day string) error {
	rt := s.rt.Load()
	until := s.now()
	who, err := s.store.digestRecipients(ctx, until)
	if err != nil {
		return err
	}
	var failed []error
	for _, identityID := range who {
		if err := s.digestOne(ctx, rt, day, identityID, until); err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("digest of %s: %d of %d clients not sent yet: %w", day, len(failed), len(who), errors.Join(failed...))
	}
	return nil
}

func (s *Service) digestOne(ctx context.Context, rt *runtime, day, identityID string, until time.Time) error {
	log := s.log.WithField("identity_id", identityID).WithField("day", day)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := s.store.lockDigest(ctx, tx, identityID, until)
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]string, len(rows))
		for i, n := range rows {
			ids[i] = n.ID
		}
		if rt.cfg.Notifications.Disabled || rt.mailer == nil {
			return s.store.setOutcome(ctx, tx, ids, "skipped", "mail to clients is off", s.now())
		}
		ident, err := s.directory.ByID(ctx, identityID)
		switch {
		case errors.Is(err, kratos.ErrNotFound), errors.Is(err, kratos.ErrIdentityInactive), errors.Is(err, kratos.ErrNoRole):
			return s.store.setOutcome(ctx, tx, ids, "skipped", err.Error(), s.now())
		case err != nil:
			return fmt.Errorf("reading identity %s: %w", identityID, err)
		}
		var stale []string // rows of a lot the owner no longer holds
		kept := rows[:0]
		for _, n := range rows {
			if n.Follower && (ident.Role != "owner" || !ident.HoldsLot(n.Lot)) {
				stale = append(stale, n.ID)
				continue
			}
			if ident.Email != "" {
				n.Email = ident.Email
			}
			n.RecipientName = ident.Name
			kept = append(kept, n)
		}
		if err := s.store.setOutcome(ctx, tx, stale, "skipped", "no longer an owner of the lot", s.now()); err != nil {
			return err
		}
		if len(kept) == 0 {
			return nil
		}
		rows = kept
		ids = ids[:0]
		for _, n := range rows {
			ids = append(ids, n.ID)
		}
		token, err := s.store.unsubscribeToken(ctx, tx, identityID)
		if err != nil {
			return err
		}
		msg, err := digestMailWith(rt.tpl, rt.site, day, rows, token)
		if err != nil {
			return s.store.setOutcome(ctx, tx, ids, "failed", err.Error(), s.now())
		}
		retry, err := rt.mailer.Notify(ctx, msg)
		switch {
		case err == nil:
			log.WithField("events", len(rows)).Info("client digest sent")
			return s.store.setOutcome(ctx, tx, ids, "sent", "", s.now())
		case retry:
			log.WithError(err).Warn("client digest not sent yet: will retry")
			return fmt.Errorf("digest of %s: %w", identityID, err)
		default:
			log.WithError(err).Error("client digest failed for good")
			return s.store.setOutcome(ctx, tx, ids, "failed", err.Error(), s.now())
		}
	})
}
