package clientnotify

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/database"
	"passerelle/kratos"
	"passerelle/notify"
)

// JobInserter enqueues River jobs in a transaction; the bridge's client is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Directory tells whether a client may still be mailed, and where
// (kratos.Directory in production).
type Directory interface {
	ByID(ctx context.Context, id string) (kratos.Identity, error)
	// OwnersOfLot returns the active owners holding lot.
	OwnersOfLot(ctx context.Context, lot string) ([]kratos.Identity, error)
}

// Config wires a Service. Holder, Pool and Directory are required.
type Config struct {
	Holder    *config.Holder
	Pool      *pgxpool.Pool
	Directory Directory
	// Log defaults to logrus' standard logger; Now to time.Now.
	Log *logrus.Logger
	Now func() time.Time
}

// Service runs the client notifications: the sweep that turns new thread
// messages into notifications (SweepArgs, periodic), the mail job
// (SendArgs) and the daily digest (DigestArgs, periodic). The bridge owns
// the River client: it registers the workers and periodic jobs (Register,
// PeriodicJobs) and hands the client over (SetJobClient).
type Service struct {
	holder    *config.Holder
	pool      *pgxpool.Pool
	directory Directory
	log       *logrus.Logger
	now       func() time.Time
	store     store
	rt        atomic.Pointer[runtime]
	jobs      atomic.Pointer[jobsBox]
}

type jobsBox struct{ JobInserter }

// runtime is what one configuration builds: the mailer (nil: mail off).
type runtime struct {
	cfg    *config.Config
	mailer *notify.Mailer
	tpl    *notify.Templates
	site   site
	loc    *time.Location
}

func newRuntime(cfg *config.Config) (*runtime, error) {
	m, err := notify.NewMailer(cfg.SMTP)
	if errors.Is(err, notify.ErrDisabled) {
		m, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	loc, err := time.LoadLocation(cfg.Calendar.TimeZone)
	if err != nil || cfg.Calendar.TimeZone == "" {
		loc, _ = time.LoadLocation("Europe/Paris")
	}
	tpl, err := loadTemplates(cfg.Notifications.TemplatesDir)
	if err != nil {
		return nil, err
	}
	rt := &runtime{cfg: cfg, mailer: m, tpl: tpl, loc: loc, site: site{PublicURL: cfg.PublicURL, Agency: "Votre agence"}}
	if m != nil {
		rt.site.Domain = m.Domain()
	}
	return rt, nil
}

// New builds the Service and subscribes it to the holder's reloads (a
// configuration whose mailer cannot be built is refused).
func New(c Config) (*Service, error) {
	if c.Holder == nil || c.Pool == nil || c.Directory == nil {
		return nil, errors.New("clientnotify: Holder, Pool and Directory are required")
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	rt, err := newRuntime(c.Holder.Get())
	if err != nil {
		return nil, fmt.Errorf("clientnotify: %w", err)
	}
	s := &Service{holder: c.Holder, pool: c.Pool, directory: c.Directory, log: c.Log, now: c.Now, store: store{pool: c.Pool}}
	s.rt.Store(rt)
	c.Holder.Subscribe(func(next *config.Config) (func(), error) {
		rt, err := newRuntime(next)
		if err != nil {
			return nil, fmt.Errorf("clientnotify: %w", err)
		}
		return func() { s.rt.Store(rt) }, nil
	})
	return s, nil
}

// SetJobClient hands over the River client (built after Register).
func (s *Service) SetJobClient(j JobInserter) { s.jobs.Store(&jobsBox{j}) }

// SweepArgs is the periodic job that looks for new events.
type SweepArgs struct{}

// Kind names the job in River.
func (SweepArgs) Kind() string { return "client_notification_sweep" }

// InsertOpts: not retried (the next interval's run is the retry); one run at
// a time is the session lock LockNotify, not River uniqueness (see the
// deadline watcher's WatchArgs for why).
func (SweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// SendArgs is one immediate notification's mail.
type SendArgs struct {
	NotificationID string `json:"notification_id"`
}

// Kind names the job in River.
func (SendArgs) Kind() string { return "client_notification" }

// sendMaxAttempts bounds the retries of one mail: with the bridge's backoff
// (from 2 s, capped at redmine.max_retry_delay, 5 min) about 4 hours.
const sendMaxAttempts = 60

// InsertOpts: unique per notification with River's default unique states,
// completed included (a completed job is a sent, failed or skipped mail:
// never again).
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: sendMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Register adds the workers.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[SweepArgs]) error {
		var n int
		var err error
		locked, lerr := database.WithSessionLock(ctx, s.pool, database.LockNotify, "client_notification_sweep", func() error {
			n, err = s.Sweep(ctx)
			return nil
		})
		if lerr != nil {
			return lerr
		}
		if locked && n > 0 {
			s.log.WithField("notifications", n).Debug("client notifications created")
		}
		return err
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[SendArgs]) error {
		return s.send(ctx, j.Args.NotificationID, j.Attempt)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[DeliverArgs]) error {
		return s.deliverWebhook(ctx, j.Args.DeliveryID)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[DigestArgs]) error {
		return s.RunDigest(ctx, j.Args.Day)
	}))
}

// PeriodicJobs returns the sweep (every notifications.sweep_interval) and
// the daily digest (at notifications.digest_time, calendar.time_zone).
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	rt := s.rt.Load()
	hour, minute, _ := rt.cfg.Notifications.DigestClock()
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(rt.cfg.Notifications.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "client_notification_sweep"}),
		river.NewPeriodicJob(dailyAt{hour: hour, minute: minute, loc: rt.loc},
			func() (river.JobArgs, *river.InsertOpts) {
				return DigestArgs{Day: s.now().In(rt.loc).Format("2006-01-02")}, nil
			},
			&river.PeriodicJobOpts{ID: "client_digest"}),
	}
}

// sweepBatch bounds the messages one sweep transaction takes.
const sweepBatch = 200

// Sweep turns the messages nobody looked at yet into notifications and
// enqueues the immediate ones, in one transaction per batch (see the
// package doc); it returns how many notifications it created.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	jobs := s.jobs.Load()
	if jobs == nil {
		return 0, errors.New("clientnotify: no job client")
	}
	total := 0
	for {
		n, more, err := s.sweepOnce(ctx, jobs)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (s *Service) sweepOnce(ctx context.Context, jobs *jobsBox) (created int, more bool, err error) {
	now := s.now()
	rt := s.rt.Load()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		owners := map[string][]kratos.Identity{} // by lot, for this batch
		msgs, err := s.store.pendingMessages(ctx, tx, sweepBatch)
		if err != nil {
			return err
		}
		more = len(msgs) == sweepBatch
		ids := make([]string, 0, len(msgs))
		for _, m := range msgs {
			ids = append(ids, m.ID)
			if err := s.sweepWebhooks(ctx, tx, jobs, rt, m, now); err != nil {
				return err
			}
			e := eventOf(m.threadMessage)
			if e == "" {
				continue
			}
			recipients, err := s.recipients(ctx, tx, rt, m, e, owners)
			if err != nil {
				return err
			}
			for _, r := range recipients {
				id, err := s.store.insertNotification(ctx, tx, m, r.recipient, e, r.mode, now)
				if err != nil {
					return err
				}
				if id == "" {
					continue
				}
				created++
				if r.mode == "immediate" {
					if _, err := jobs.InsertTx(ctx, tx, SendArgs{NotificationID: id}, nil); err != nil {
						return fmt.Errorf("enqueueing notification %s: %w", id, err)
					}
				}
			}
		}
		return s.store.markNotified(ctx, tx, ids, now)
	})
	if err != nil {
		return 0, false, fmt.Errorf("clientnotify sweep: %w", err)
	}
	return created, more, nil
}

// ListFailed lists the notifications given up (refused for good, or out of
// attempts), newest first, for admins (`passerelle notifications failed`).
func ListFailed(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Failed, error) {
	return store{pool: pool}.failed(ctx, limit)
}

// sweepWebhooks makes, in the sweep's transaction, one delivery per
// configured endpoint for message m, with its job.
func (s *Service) sweepWebhooks(ctx context.Context, tx pgx.Tx, jobs *jobsBox, rt *runtime, m pendingMessage, now time.Time) error {
	if len(rt.cfg.Webhooks.Outbound) == 0 {
		return nil
	}
	e, err := s.store.eventData(ctx, tx, m)
	if err != nil {
		return err
	}
	payload, err := buildPayload(rt.site, e, now)
	if err != nil {
		return fmt.Errorf("building the event of message %s: %w", m.ID, err)
	}
	for _, ep := range rt.cfg.Webhooks.Outbound {
		id, err := s.store.insertDelivery(ctx, tx, ep.Name, m.ID, webhookTypeOf(m.threadMessage), payload, now)
		if err != nil {
			return err
		}
		if id == "" {
			continue
		}
		if _, err := jobs.InsertTx(ctx, tx, DeliverArgs{DeliveryID: id}, nil); err != nil {
			return fmt.Errorf("enqueueing delivery %s: %w", id, err)
		}
	}
	return nil
}

// target is a recipient and the mode of its notification.
type target struct {
	recipient
	mode string
}

// recipients are who hears of event e of message m: the request's author
// (by their preferences; unsubscribed: only the acknowledgment), and for an
// answer, a status change or a closure on a request whose category is shared
// with the lot's owners, each active owner of the lot who follows it
// (preferences follow_lots, default yes) by their own preferences. owners
// caches Kratos' answer per lot for one sweep; Kratos unreachable fails the
// sweep, which the next interval retries (nothing is marked looked at).
func (s *Service) recipients(ctx context.Context, tx pgx.Tx, rt *runtime, m pendingMessage, e Event, owners map[string][]kratos.Identity) ([]target, error) {
	var out []target
	if m.Email != "" {
		mode := m.Mode
		switch {
		case alwaysImmediate(e):
			mode = "immediate"
		case mode == "none":
			mode = ""
		case mode != "daily":
			mode = "immediate"
		}
		if mode != "" {
			out = append(out, target{recipient{IdentityID: m.IdentityID, Email: m.Email}, mode})
		}
	}
	if m.Lot == "" || e == EventReceived || e == EventTransmitted {
		return out, nil
	}
	if cat, ok := rt.cfg.Category(m.Category); !ok || !cat.SharedWithOwners {
		return out, nil
	}
	list, cached := owners[m.Lot]
	if !cached {
		var err error
		if list, err = s.directory.OwnersOfLot(ctx, m.Lot); err != nil {
			return nil, fmt.Errorf("finding the owners of lot %s: %w", m.Lot, err)
		}
		owners[m.Lot] = list
	}
	var ids []string
	for _, o := range list {
		if o.ID != m.IdentityID {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	prefs, err := s.store.followerPrefs(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	for _, o := range list {
		if o.ID == m.IdentityID || o.Email == "" {
			continue
		}
		mode := "immediate"
		if p, ok := prefs[o.ID]; ok {
			if !p.Follow || p.Mode == "none" {
				continue
			}
			if p.Mode == "daily" {
				mode = "daily"
			}
		}
		out = append(out, target{recipient{IdentityID: o.ID, Email: o.Email, Follower: true}, mode})
	}
	return out, nil
}
