package deadlines

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"
)

// The overdue watcher (issue 5).
//
// Every Interval, on the elected leader only (a River periodic job), the
// watcher:
//  1. computes again the deadlines of the requests whose history changed
//     since their last computation, or whose rules changed (safety net for
//     the immediate computations of refresh.go);
//  2. claims the alerts that fell due: for each running deadline, at its
//     warning time (75 % of the allowed time by default) a warning, at its due
//     time an escalation. The request's history is read again and the
//     deadlines recomputed under the request's row lock, so what is claimed
//     is exact; each claim is a deadline_alerts row (primary key: request,
//     deadline id, kind) inserted in the same transaction as the River job
//     that carries the alert out (AlertArgs, alert_job.go). Whatever the
//     number of replicas, restarts or overlapping runs, an alert is claimed
//     once;
//  3. writes the "Échéance réponse" values Redmine did not take yet;
//  4. enqueues again the alerts whose job was given up (a long outage).
//
// The clock is the Service's (Config.Now), so tests move time without
// sleeping.

// WatchArgs is the watcher's periodic job.
type WatchArgs struct{}

// Kind names the job in River.
func (WatchArgs) Kind() string { return "deadline_watch" }

// InsertOpts: a failed run is not retried (the next interval's is). No
// River uniqueness: one run at a time is the session lock LockWatch, taken
// by the worker (Service.Register), as for the bridge's poll.
//
// River fact (river@v0.51.1): uniqueness by args over states that include
// running (the first version's oneAtATime) let a run left "running" by a
// SIGKILLed leader block every later insert until River's rescuer moved it
// (JobTimeout + 10 s, checked every 30 s), and the default unique states
// include completed (one run per 24 h). A PostgreSQL advisory lock dies with
// the session that held it, at once.
func (WatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1}
}

// Watcher defaults.
const (
	// DefaultWatchInterval is the time between two runs of the watcher.
	DefaultWatchInterval = time.Minute
	// DefaultWatchBatch bounds the requests handled per step and run.
	DefaultWatchBatch = 200
	// DefaultRedriveAfter is how long a pending alert may go without an
	// attempt before it is enqueued again.
	DefaultRedriveAfter = 30 * time.Minute
)

// WatcherConfig tunes the watcher. Zero fields take the defaults.
type WatcherConfig struct {
	// Interval between runs (default DefaultWatchInterval, 1m).
	Interval time.Duration
	// Batch bounds the requests handled per step and run (default
	// DefaultWatchBatch, 200).
	Batch int
	// RedriveAfter is how long a pending alert may go without an attempt
	// before it is enqueued again (default DefaultRedriveAfter, 30m).
	RedriveAfter time.Duration
}

func (c WatcherConfig) withDefaults() WatcherConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultWatchInterval
	}
	if c.Batch <= 0 {
		c.Batch = DefaultWatchBatch
	}
	if c.RedriveAfter <= 0 {
		c.RedriveAfter = DefaultRedriveAfter
	}
	return c
}

// Watcher finds the requests near and past their deadlines.
type Watcher struct {
	s   *Service
	cfg WatcherConfig
}

// NewWatcher returns a watcher of the Service's requests (the Service runs
// its own, tuned by Config.Watcher, as a periodic job; tests and tools build
// more).
func (s *Service) NewWatcher(cfg WatcherConfig) *Watcher {
	return &Watcher{s: s, cfg: cfg.withDefaults()}
}

// WatchStats says what one run did.
type WatchStats struct {
	Recomputed int // requests whose deadlines were computed again
	Checked    int // requests with an alert due
	Warnings   int // warnings claimed
	Escalated  int // escalations claimed
	Fields     int // Échéance réponse values written
	Redriven   int // alerts enqueued again
}

// RunOnce is one run of the watcher at the Service's clock. The errors of
// single requests are joined and returned once every step ran.
func (w *Watcher) RunOnce(ctx context.Context) (WatchStats, error) {
	var st WatchStats
	s := w.s
	now := s.now()
	rt, err := s.current()
	if err != nil {
		return st, err
	}
	var errs []error

	// 1. Histories changed since their last computation, or rules changed.
	stale, err := s.store.staleRequests(ctx, rt.rules.version, w.cfg.Batch)
	if err != nil {
		return st, err
	}
	for _, id := range stale {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			_, err := s.refreshTx(ctx, tx, rt, id, false, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("computing the deadlines of request %s: %w", id, err))
			continue
		}
		st.Recomputed++
	}

	// 2. Alerts due.
	due, err := s.store.requestsWithAlertDue(ctx, now, w.cfg.Batch)
	if err != nil {
		return st, err
	}
	for _, id := range due {
		st.Checked++
		var res refreshResult
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			res, err = s.refreshTx(ctx, tx, rt, id, true, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("claiming the alerts of request %s: %w", id, err))
			continue
		}
		for _, p := range res.claimed {
			log := s.log.WithFields(logrus.Fields{"request_id": id, "reference": res.req.Reference, "deadline_id": p.deadline.ID,
				"due": p.deadline.Due.Format(time.RFC3339)})
			switch {
			case p.skip:
				log.Info("deadline first seen past its due time: warning skipped")
			case p.kind == AlertWarning:
				st.Warnings++
				log.Info("deadline near: warning claimed")
			default:
				st.Escalated++
				log.Warn("deadline passed: escalation claimed")
			}
		}
	}

	// 3. "Échéance réponse" values not written yet.
	if rt.cfg.Redmine.CustomFields.ResponseDue > 0 {
		pending, err := s.store.pendingDueFields(ctx, w.cfg.Batch)
		if err != nil {
			return st, err
		}
		for _, id := range pending {
			if err := s.syncDueField(ctx, rt.cfg, id); err != nil {
				errs = append(errs, err)
				continue
			}
			st.Fields++
		}
	}

	// 4. Alerts whose job River gave up on.
	n, err := w.redrive(ctx)
	st.Redriven = n
	if err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// redrive enqueues again the pending alerts with no attempt for
// RedriveAfter, and returns how many were enqueued.
func (w *Watcher) redrive(ctx context.Context) (int, error) {
	s := w.s
	args, err := s.store.abandonedAlerts(ctx, w.cfg.RedriveAfter, w.cfg.Batch)
	if err != nil || len(args) == 0 {
		return 0, err
	}
	jobs := s.jobClient()
	if jobs == nil {
		return 0, errors.New("watcher: no job client to enqueue alerts again (SetJobClient)")
	}
	var errs []error
	n := 0
	for _, a := range args {
		res, err := jobs.Insert(ctx, a, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("enqueuing the %s of %s again: %w", a.Alert, a.DeadlineID, err))
			continue
		}
		if !res.UniqueSkippedAsDuplicate {
			n++
			s.log.WithFields(logrus.Fields{"request_id": a.RequestID, "deadline_id": a.DeadlineID, "kind": a.Alert}).
				Warn("deadline alert enqueued again after its job was given up")
		}
		_ = s.store.touchAlert(ctx, a)
	}
	return n, errors.Join(errs...)
}
