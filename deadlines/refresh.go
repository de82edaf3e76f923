package deadlines

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
)

// refreshResult is what one computation stored.
type refreshResult struct {
	req       espaceclient.Request
	rd        RequestDeadlines
	dueAt     *time.Time
	moved     bool
	claimed   []alertPlan // alerts claimed by this computation (pending ones have a job)
	nextAlert *time.Time
}

// refreshTx computes a request's deadlines from its history inside tx (the
// request row locked), stores due_at and the request_deadlines row, and,
// when claim is set, claims the alerts due at now: a deadline_alerts row per
// alert (the primary key makes the claim exactly-once, whatever the
// replicas) and, in the same transaction, the job that carries it out.
func (s *Service) refreshTx(ctx context.Context, tx pgx.Tx, rt *runtime, requestID string, claim bool, now time.Time) (refreshResult, error) {
	var res refreshResult
	req, err := espaceclient.LockRequestHistory(ctx, tx, requestID)
	if err != nil {
		return res, err
	}
	res.req = req
	res.rd = rt.rules.Compute(req)
	claimed, err := claimedAlerts(ctx, tx, requestID)
	if err != nil {
		return res, err
	}
	if claim {
		jobs := s.jobClient()
		if jobs == nil {
			return res, fmt.Errorf("claiming the alerts of %s: no job client (SetJobClient)", req.Reference)
		}
		for _, p := range planAlerts(res.rd.Deadlines, claimed, now) {
			ok, err := insertAlert(ctx, tx, req.ID, p, now)
			if err != nil {
				return res, err
			}
			claimed[alertKey{p.deadline.ID, p.kind}] = true
			if !ok {
				continue // another replica claimed it first
			}
			if !p.skip {
				if _, err := jobs.InsertTx(ctx, tx, AlertArgs{RequestID: req.ID, DeadlineID: p.deadline.ID, Alert: p.kind}, nil); err != nil {
					return res, fmt.Errorf("enqueuing the %s of %s: %w", p.kind, p.deadline.ID, err)
				}
			}
			res.claimed = append(res.claimed, p)
		}
	}
	res.dueAt = res.rd.DueAt()
	res.nextAlert = nextAlertAt(res.rd.Deadlines, claimed)
	if res.moved, err = espaceclient.SetDueAt(ctx, tx, req.ID, res.dueAt); err != nil {
		return res, err
	}
	if err := saveRequestDeadlines(ctx, tx, req.ID, req.UpdatedAt, len(req.Messages), rt.rules.version, res.nextAlert,
		dueField(rt.cfg, res.dueAt)); err != nil {
		return res, fmt.Errorf("storing the deadlines of %s: %w", req.Reference, err)
	}
	return res, nil
}

// Recompute computes a request's deadlines again from its history, stores
// them, and writes "Échéance réponse" on its issue when the due time moved.
// It claims no alert (the watcher does).
func (s *Service) Recompute(ctx context.Context, requestID string) error {
	rt, err := s.current()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := s.refreshTx(ctx, tx, rt, requestID, false, s.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("computing the deadlines of request %s: %w", requestID, err)
	}
	return s.syncDueField(ctx, rt.cfg, requestID)
}

// AfterEvent is called once something that may move a request's deadlines
// was stored (its issue created, a client message mirrored, a refresh from
// Redmine). issueDue, when not nil, is the "Échéance réponse" value the issue
// holds now (known from Redmine's answer), which saves a write. Failures are
// logged, never returned: the job that calls it has done its own work, and
// the watcher computes again every request whose history changed since its
// last computation.
func (s *Service) AfterEvent(ctx context.Context, log *logrus.Entry, requestID string, issueDue *string) {
	rt, err := s.current()
	if err != nil {
		log.WithError(err).Error("deadline rules")
		return
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res, err := s.refreshTx(ctx, tx, rt, requestID, false, s.now())
		if err == nil && res.moved {
			log.WithField("due_at", res.dueAt).Info("response deadline moved")
		}
		return err
	})
	if err != nil {
		log.WithError(err).Warn("computing the deadlines; the watcher will do it")
		return
	}
	if issueDue != nil {
		if err := recordDueFieldSent(ctx, s.pool, requestID, *issueDue); err != nil {
			log.WithError(err).Warn("recording the issue's due field")
		}
	}
	if err := s.syncDueField(ctx, rt.cfg, requestID); err != nil {
		log.WithError(err).Warn("writing Échéance réponse in Redmine; the watcher will retry")
	}
}

// InitTx computes a new request's deadlines in the transaction that stores
// it, so its due time is there from the start (and reaches the Redmine issue
// on its creation). Only a database error is returned (the transaction is
// then lost anyway); a configuration problem is logged and left to the
// watcher.
func (s *Service) InitTx(ctx context.Context, tx pgx.Tx, requestID string) error {
	rt, err := s.current()
	if err != nil {
		s.log.WithError(err).Error("deadline rules: the request gets its deadlines once fixed")
		return nil
	}
	_, err = s.refreshTx(ctx, tx, rt, requestID, false, s.now())
	return err
}
