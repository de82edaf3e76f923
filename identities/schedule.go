package identities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"passerelle/database"
	"passerelle/internal/textnorm"
	"passerelle/kratos"
)

// Kinds of scheduled action.
const (
	KindInvite     = "invite"
	KindDeactivate = "deactivate"
)

// ScheduleInterval is how often the leader runs the due actions.
const ScheduleInterval = time.Minute

// ErrAlreadyScheduled: the client already has a pending action of that kind.
var ErrAlreadyScheduled = errors.New("une action de ce type est déjà prévue pour cette adresse")

// Action is one scheduled action.
type Action struct {
	ID       int64
	Kind     string
	Email    string
	RunAt    time.Time
	DoneAt   *time.Time
	Outcome  string
	Attempts int
	Error    string
	// Record is the invitation's client (KindInvite).
	Record kratos.ClientRecord
}

// payload is an invitation's stored client.
type payload struct {
	First    string   `json:"first"`
	Last     string   `json:"last"`
	Role     string   `json:"role"`
	Lots     []string `json:"lots"`
	Mandates []string `json:"mandates"`
}

// ScheduleInvite stores an invitation to send at runAt. The client is
// validated now; ErrExists when an identity already has the e-mail.
func (s *Service) ScheduleInvite(ctx context.Context, c kratos.ClientRecord, runAt time.Time) (int64, error) {
	if err := Validate(&c); err != nil {
		return 0, err
	}
	if _, err := s.directory().FindClient(ctx, c.Email); err == nil {
		return 0, fmt.Errorf("%s : %w ; pour lui envoyer un nouveau lien : passerelle identities reinvite --email %s", c.Email, ErrExists, c.Email)
	} else if !errors.Is(err, kratos.ErrNotFound) {
		return 0, err
	}
	p := payload{First: c.First, Last: c.Last, Role: string(c.Role), Lots: c.Lots, Mandates: c.Mandates}
	return s.schedule(ctx, KindInvite, c.Email, p, runAt)
}

// ScheduleDeactivate stores a deactivation at runAt of the identity named by
// ref, its login e-mail or its Kratos id (it must exist, or have an
// invitation scheduled before runAt).
func (s *Service) ScheduleDeactivate(ctx context.Context, ref string, runAt time.Time) (int64, error) {
	if s.pool == nil {
		return 0, errors.New("identities: no database for scheduled actions")
	}
	if textnorm.IsUUID(strings.TrimSpace(ref)) {
		c, err := s.directory().FindClient(ctx, ref)
		if err != nil {
			return 0, err
		}
		ref = c.Email
	}
	email, err := NormalizeEmail(ref)
	if err != nil {
		return 0, err
	}
	if _, err := s.directory().FindClient(ctx, email); errors.Is(err, kratos.ErrNotFound) {
		pending, err := s.actions().inviteBefore(ctx, email, runAt)
		if err != nil {
			return 0, err
		}
		if !pending {
			return 0, fmt.Errorf("aucune identité avec l'adresse %s (ni invitation prévue avant cette date)", email)
		}
	} else if err != nil {
		return 0, err
	}
	return s.schedule(ctx, KindDeactivate, email, struct{}{}, runAt)
}

func (s *Service) schedule(ctx context.Context, kind, email string, p any, runAt time.Time) (int64, error) {
	if s.pool == nil {
		return 0, errors.New("identities: no database for scheduled actions")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("encoding the scheduled %s: %w", kind, err)
	}
	id, err := s.actions().insert(ctx, kind, email, b, runAt)
	if errors.Is(err, ErrAlreadyScheduled) {
		return 0, fmt.Errorf("%s : %w (voir passerelle identities scheduled)", email, ErrAlreadyScheduled)
	}
	if err != nil {
		return 0, err
	}
	s.log.WithFields(logrus.Fields{"action_id": id, "kind": kind, "run_at": runAt.UTC().Format(time.RFC3339)}).Info("identity action scheduled")
	return id, nil
}

// Scheduled lists the pending actions and those done or failed in the last
// 30 days, by run_at.
func (s *Service) Scheduled(ctx context.Context) ([]Action, error) { return s.actions().recent(ctx) }

// Cancel cancels a pending scheduled action (a move-in or a departure
// postponed): it is marked done with the outcome "annulée" and never runs.
func (s *Service) Cancel(ctx context.Context, id int64) (Action, error) {
	a, err := s.actions().cancel(ctx, id, s.now())
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("aucune action prévue en attente n° %d (voir passerelle identities scheduled)", id)
	}
	if err == nil {
		s.log.WithFields(logrus.Fields{"action_id": id, "kind": a.Kind}).Info("scheduled identity action cancelled")
	}
	return a, err
}

// RunStats counts what RunDue did.
type RunStats struct {
	Done   int
	Failed int
	// Skipped is true when another run held the lock.
	Skipped bool
}

// RunDue carries out every action whose time has come, once: under the
// session lock LockIdentityActions (one run at a time across replicas and
// commands), each action in its own transaction that claims it (FOR UPDATE
// SKIP LOCKED), calls Kratos and marks it done. Kratos' side is idempotent
// (an invitation whose identity is already there and verified is "already
// there", a deactivation of an inactive identity changes nothing), so a
// crash between the call and the commit only repeats it. A failed action
// keeps its error and is tried again on the next run; it never stops the
// others.
func (s *Service) RunDue(ctx context.Context) (RunStats, error) {
	var st RunStats
	locked, err := database.WithSessionLock(ctx, s.pool, database.LockIdentityActions, "scheduled_identity_actions", func() error {
		tried := []int64{}
		for {
			id, ok, err := s.runNext(ctx, tried)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			tried = append(tried, id.id)
			if id.failed {
				st.Failed++
			} else {
				st.Done++
			}
		}
	})
	if err != nil {
		return st, err
	}
	st.Skipped = !locked
	return st, nil
}

type ran struct {
	id     int64
	failed bool
}

// runNext claims, runs and records the next due action not yet tried in
// this run. ok is false when none is left.
func (s *Service) runNext(ctx context.Context, tried []int64) (ran, bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ran{}, false, fmt.Errorf("claiming a scheduled identity action: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit, a no-op
	a, err := claimDue(ctx, tx, s.now(), tried)
	if errors.Is(err, pgx.ErrNoRows) {
		return ran{}, false, nil
	}
	if err != nil {
		return ran{}, false, err
	}
	log := s.log.WithFields(logrus.Fields{"action_id": a.ID, "kind": a.Kind})
	outcome, aerr := s.carryOut(ctx, a)
	if aerr != nil {
		log.WithError(aerr).Warn("scheduled identity action failed; it is tried again on the next run")
		if err := recordFailure(ctx, tx, a.ID, aerr.Error()); err != nil {
			return ran{}, false, err
		}
	} else if err := markDone(ctx, tx, a.ID, s.now(), outcome); err != nil {
		return ran{}, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return ran{}, false, fmt.Errorf("committing scheduled identity action %d: %w", a.ID, err)
	}
	if aerr == nil {
		log.WithField("outcome", outcome).Info("scheduled identity action done")
	}
	return ran{id: a.ID, failed: aerr != nil}, true, nil
}

// carryOut does the action and says what was done, in French.
func (s *Service) carryOut(ctx context.Context, a Action) (string, error) {
	dir := s.directory()
	switch a.Kind {
	case KindInvite:
		c, err := dir.FindClient(ctx, a.Email)
		switch {
		case errors.Is(err, kratos.ErrNotFound):
			if _, err := s.Invite(ctx, a.Record); err != nil {
				return "", err
			}
			return "identité créée et invitation envoyée", nil
		case err != nil:
			return "", err
		case c.HasPassword || c.Verified:
			return "déjà là : le client a déjà accès (rien envoyé)", nil
		}
		// There, never completed: an earlier attempt created it and then
		// failed (or crashed) before the mail; send one now.
		mailer, err := s.mailer()
		if err != nil {
			return "", err
		}
		if _, err := s.sendInvitation(ctx, dir, mailer, c.ID, c.ClientRecord); err != nil {
			return "", err
		}
		return "identité déjà créée ; invitation envoyée", nil
	case KindDeactivate:
		ch, err := dir.Deactivate(ctx, a.Email)
		if errors.Is(err, kratos.ErrNotFound) {
			return "aucune identité avec cette adresse : rien à désactiver", nil
		}
		if err != nil {
			return "", err
		}
		if ch.PreviousState == "inactive" {
			return "déjà désactivée ; sessions supprimées", nil
		}
		return "désactivée ; sessions supprimées", nil
	}
	return "", fmt.Errorf("unknown scheduled identity action kind %q", a.Kind)
}

// RunScheduledArgs is the periodic job that runs the due actions.
type RunScheduledArgs struct{}

// Kind is River's job kind.
func (RunScheduledArgs) Kind() string { return "identities_run_scheduled" }

// Register adds the periodic job's worker.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[RunScheduledArgs]) error {
		st, err := s.RunDue(ctx)
		if st.Done+st.Failed > 0 {
			s.log.WithFields(logrus.Fields{"done": st.Done, "failed": st.Failed}).Info("scheduled identity actions run")
		}
		return err
	}))
}

// PeriodicJobs returns the job that runs the due actions every
// ScheduleInterval, on the elected leader.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(ScheduleInterval),
		func() (river.JobArgs, *river.InsertOpts) { return RunScheduledArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "identities_run_scheduled"})}
}
