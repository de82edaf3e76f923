package deadlines

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
	"passerelle/notify"
	"passerelle/redmine"
)

// JobInserter enqueues River jobs; the bridge's *river.Client[pgx.Tx] is one.
type JobInserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Config wires a Service. Holder, Pool, Redmine and Directory are required.
type Config struct {
	Holder *config.Holder
	Pool   *pgxpool.Pool
	// Redmine is the sync user's client: it writes the due field and the
	// escalation notes.
	Redmine *redmine.Client
	// Directory returns the Redmine directory as the sync user sees it (the
	// bridge's cache): the escalation step needs the sync user's id.
	Directory func(context.Context) (*redmine.Directory, error)
	// Log defaults to logrus' standard logger.
	Log *logrus.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Watcher tunes the periodic watcher; zero fields take its defaults.
	Watcher WatcherConfig
}

// Service is the deadlines product as the bridge runs it: computing and
// storing deadlines, the due field, the watcher and the alert job. The
// bridge owns the River client: it registers the Service's workers and
// periodic job (Register, PeriodicJobs) and hands it the client once built
// (SetJobClient).
type Service struct {
	holder    *config.Holder
	pool      *pgxpool.Pool
	rm        *redmine.Client
	directory func(context.Context) (*redmine.Directory, error)
	log       *logrus.Logger
	clock     func() time.Time
	store     store
	watcher   *Watcher

	jobs  atomic.Pointer[jobsBox]
	rt    atomic.Pointer[runtime]
	perms permCache
}

type jobsBox struct{ JobInserter }

// runtime is what the Service builds from one configuration: it is built in
// New and again, on a reload, before the configuration is applied (a
// configuration whose rules or mailer cannot be built is refused, and the
// current one stays).
type runtime struct {
	cfg   *config.Config
	rules *Rules
	// mailer is nil when e-mail is disabled (smtp.addr empty).
	mailer *notify.Mailer
	// templates lay out the alert mails (notifications.templates_dir applied).
	templates *notify.Templates
}

// newRuntime builds the rules, the mailer and the alert templates of a
// configuration.
func newRuntime(cfg *config.Config) (*runtime, error) {
	rules, err := NewRules(cfg)
	if err != nil {
		return nil, err
	}
	m, err := notify.NewMailer(cfg.SMTP)
	if errors.Is(err, notify.ErrDisabled) {
		m, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	tpl, err := notify.LoadTemplates(cfg.Notifications.TemplatesDir)
	if err != nil {
		return nil, err
	}
	return &runtime{cfg: cfg, rules: rules, mailer: m, templates: tpl}, nil
}

// New builds a Service from the holder's configuration and subscribes it to
// the holder's reloads.
func New(cfg Config) (*Service, error) {
	if cfg.Holder == nil || cfg.Pool == nil || cfg.Redmine == nil || cfg.Directory == nil {
		return nil, errors.New("deadlines: Holder, Pool, Redmine and Directory are required")
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rt, err := newRuntime(cfg.Holder.Get())
	if err != nil {
		return nil, fmt.Errorf("deadlines: %w", err)
	}
	s := &Service{holder: cfg.Holder, pool: cfg.Pool, rm: cfg.Redmine, directory: cfg.Directory, log: cfg.Log,
		clock: cfg.Now, store: store{pool: cfg.Pool}}
	s.rt.Store(rt)
	s.watcher = s.NewWatcher(cfg.Watcher)
	cfg.Holder.Subscribe(func(next *config.Config) (func(), error) {
		rt, err := newRuntime(next)
		if err != nil {
			return nil, fmt.Errorf("deadlines: %w", err)
		}
		return func() { s.rt.Store(rt) }, nil
	})
	return s, nil
}

// current returns the runtime of the configuration in force.
func (s *Service) current() (*runtime, error) {
	rt := s.rt.Load()
	if rt == nil {
		return nil, errors.New("deadlines: no configuration")
	}
	return rt, nil
}

func (s *Service) now() time.Time { return s.clock() }

// SetJobClient hands the Service the job client it enqueues alerts with (the
// bridge's River client, built after Register).
func (s *Service) SetJobClient(j JobInserter) { s.jobs.Store(&jobsBox{j}) }

func (s *Service) jobClient() JobInserter {
	if b := s.jobs.Load(); b != nil {
		return b.JobInserter
	}
	return nil
}

// DueLabel is what clients read about a due time, under the configuration
// in force (see Rules.DueLabel).
func (s *Service) DueLabel(t time.Time) string {
	rt, err := s.current()
	if err != nil {
		return ""
	}
	return rt.rules.DueLabel(t)
}

// Register adds the deadline jobs' workers: the watcher's run and the alert
// job.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[WatchArgs]) error {
		var st WatchStats
		var err error
		locked, lerr := database.WithSessionLock(ctx, s.pool, database.LockWatch, "deadline_watch", func() error {
			st, err = s.watcher.RunOnce(ctx)
			return nil
		})
		if lerr != nil {
			return lerr
		}
		if !locked {
			return nil // another replica's run is under way
		}
		if err != nil {
			s.log.WithError(err).Warn("deadline watcher run had errors")
		} else if st != (WatchStats{}) {
			s.log.WithFields(logrus.Fields{"recomputed": st.Recomputed, "warnings": st.Warnings, "escalations": st.Escalated,
				"fields": st.Fields, "redriven": st.Redriven}).Debug("deadline watcher run")
		}
		return err
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[AlertArgs]) error {
		return s.RunAlert(ctx, j.Args)
	}))
}

// PeriodicJobs returns the watcher's periodic job (every Watcher.Interval,
// enqueued by the elected leader only).
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(s.watcher.cfg.Interval),
		func() (river.JobArgs, *river.InsertOpts) { return WatchArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "deadline_watch"})}
}
