package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/database"
	"passerelle/deadlines"
	"passerelle/internal/logging"
	"passerelle/notify/clientnotify"
	"passerelle/redmine"
)

// Config wires a Bridge. Holder, Pool, Store and Redmine are required.
type Config struct {
	Holder  *config.Holder
	Pool    *pgxpool.Pool
	Store   Store
	Redmine *redmine.Client
	Log     *logrus.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Workers is the number of concurrent jobs (default 4).
	Workers int
	// RetryPolicy spaces the retries of failed jobs (default: exponential
	// from 2s, capped at MaxRetryDelay, with jitter).
	RetryPolicy river.ClientRetryPolicy
	// MaxRetryDelay caps the default retry policy (default: the config's
	// redmine.max_retry_delay, 5m).
	MaxRetryDelay time.Duration
	// NoPeriodic disables the periodic poller (tests that drive it by hand).
	NoPeriodic bool
	// Jobs are other products' workers and periodic jobs that the bridge's
	// River client runs too (the identities' scheduled actions).
	Jobs []JobSet
	// FetchPollInterval is how often idle workers look for jobs besides
	// Postgres notifications (default 1s).
	FetchPollInterval time.Duration
	// Clients finds clients in Kratos for the mails about their requests
	// (notify/clientnotify); nil runs no client notification.
	Clients clientnotify.Directory
	// Registerer is where the sync's metrics are registered (the app's
	// registry, served on /metrics); nil registers them on a fresh private
	// registry (NewMetrics).
	Registerer prometheus.Registerer
}

// JobSet is a product's River workers and periodic jobs (periodic jobs run
// on the elected leader only, and not at all with NoPeriodic).
type JobSet interface {
	Register(workers *river.Workers)
	PeriodicJobs() []*river.PeriodicJob
}

// Bridge is the sync engine: it owns the River client that runs the
// mirroring jobs and the poller, and implements espaceclient.Outbox.
type Bridge struct {
	cfg   Config
	log   *logrus.Logger
	rm    *redmine.Client
	sync  syncStore
	river *river.Client[pgx.Tx]

	// deadlines is what the sync jobs call of the deadlines product;
	// deadlinesSvc is the whole service (Deadlines), the same value.
	deadlines    deadlineUpdater
	deadlinesSvc *deadlines.Service
	// clientnotify tells clients about the mails about their requests (nil when
	// Config.Clients is).
	clientnotify *clientnotify.Service

	dirMu     sync.Mutex
	dir       *redmine.Directory
	dirLoaded time.Time

	// redmine tells the leader's poll whether to wake the jobs that waited
	// for Redmine (redmine_back.go).
	redmine *redmineState

	crashes crashPoints

	// metrics are the sync's metrics, registered on Config.Registerer.
	metrics *Metrics
	// noFingerprint logs once that the rewind guard cannot read the
	// database's fingerprint (store_rewind.go).
	noFingerprint sync.Once
}

// crashPoints let integration tests fail a job at a precise point (after
// Redmine kept a write, before the mapping is committed), as a crash would.
type crashPoints struct {
	afterIssueCreated func(req any) error
	afterNoteWritten  func(msg any) error
}

// New builds a Bridge and its River client (not started).
func New(cfg Config) (*Bridge, error) {
	if cfg.Holder == nil || cfg.Pool == nil || cfg.Store == nil || cfg.Redmine == nil {
		return nil, errors.New("bridge: Holder, Pool, Store and Redmine are required")
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.MaxRetryDelay == 0 {
		cfg.MaxRetryDelay = cfg.Holder.Get().Redmine.MaxRetryDelay
	}
	if cfg.MaxRetryDelay == 0 {
		cfg.MaxRetryDelay = config.DefaultMaxRetryDelay
	}
	if cfg.RetryPolicy == nil {
		cfg.RetryPolicy = &backoffPolicy{max: cfg.MaxRetryDelay}
	}
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = time.Second
	}
	b := &Bridge{cfg: cfg, log: cfg.Log, rm: cfg.Redmine, sync: syncStore{pool: cfg.Pool}, redmine: newRedmineState(),
		metrics: NewMetrics(cfg.Registerer)}

	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[MirrorRequestArgs]) error {
		return b.metrics.countJob("request", b.runMirrorJob(ctx, j.JobRow, j.Args.RequestID, j.Args.Resync))
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[MirrorMessageArgs]) error {
		return b.metrics.countJob("message", b.runMirrorJob(ctx, j.JobRow, j.Args.RequestID, false))
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[RefreshIssueArgs]) error {
		return b.refreshIssue(ctx, j.Args.IssueID)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[RetryIssueArgs]) error {
		return b.retryIssue(ctx, j.JobRow, j.Args.IssueID)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[PollArgs]) error {
		var st PollStats
		var err error
		start := time.Now()
		locked, lerr := database.WithSessionLock(ctx, cfg.Pool, database.LockPoll, "poll", func() error {
			st, err = b.PollOnce(ctx)
			return nil
		})
		if lerr != nil {
			return lerr
		}
		if !locked {
			return nil // another replica is polling now
		}
		b.metrics.pollDuration.Observe(time.Since(start).Seconds())
		b.metrics.countPoll(st)
		if err != nil {
			b.metrics.pollErrors.Inc()
		}
		if _, werr := b.afterPoll(ctx, err); werr != nil {
			b.log.WithError(werr).Warn("could not wake the jobs waiting for Redmine; their backoff will")
		}
		return err
	}))

	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[PurgeArgs]) error {
		return b.purge(ctx)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[RedriveArgs]) error {
		_, err := b.redrive(ctx)
		return err
	}))

	dl, err := deadlines.New(deadlines.Config{Holder: cfg.Holder, Pool: cfg.Pool, Redmine: cfg.Redmine, Directory: b.directory,
		Log: cfg.Log, Now: func() time.Time { return b.cfg.Now() }})
	if err != nil {
		return nil, err
	}
	b.deadlines, b.deadlinesSvc = dl, dl
	dl.Register(workers)
	for _, js := range cfg.Jobs {
		js.Register(workers)
	}

	var cm *clientnotify.Service
	if cfg.Clients != nil {
		cm, err = clientnotify.New(clientnotify.Config{Holder: cfg.Holder, Pool: cfg.Pool, Directory: cfg.Clients,
			Log: cfg.Log, Now: func() time.Time { return b.cfg.Now() }})
		if err != nil {
			return nil, err
		}
		cm.Register(workers)
		b.clientnotify = cm
	}

	var periodic []*river.PeriodicJob
	if !cfg.NoPeriodic {
		periodic = append(periodic, dl.PeriodicJobs()...)
		if cm != nil {
			periodic = append(periodic, cm.PeriodicJobs()...)
		}
		for _, js := range cfg.Jobs {
			periodic = append(periodic, js.PeriodicJobs()...)
		}
		interval := cfg.Holder.Get().Redmine.PollInterval
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
			func() (river.JobArgs, *river.InsertOpts) { return PollArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "poll_redmine"}))
		periodic = append(periodic, b.redrivePeriodicJob())
		periodic = append(periodic, b.purgePeriodicJob())
	}
	jobTimeout := JobTimeout(cfg.Holder.Get().Redmine.Timeout)
	rc, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		PeriodicJobs:      periodic,
		RetryPolicy:       cfg.RetryPolicy,
		FetchPollInterval: cfg.FetchPollInterval,
		// River fact (river@v0.51.1, client.go maybeNotifyInsertForQueues,
		// internal/notifylimiter): an insert notifies the workers at most
		// once per FetchCooldown per queue; a job inserted within that
		// window of the previous one is not announced, and when the fetch
		// the first one triggered ran before it committed, it waits for the
		// next FetchPollInterval (1 s). At the default cooldown (100 ms)
		// that was the tail of the client → Redmine latency: p95 about 1 s
		// over Redmine's own (BENCHMARKS.md section 3). At 10 ms two
		// requests rarely fall in one window; the cost is a fetch query at
		// most every 10 ms while jobs keep coming, none when idle.
		FetchCooldown: min(fetchCooldown, cfg.FetchPollInterval),
		// River fact (river@v0.51.1, client.go): RescueStuckJobsAfter
		// defaults to 1 h (JobTimeout + 1 h above an hour), so a job left
		// "running" by a killed process waited over an hour. Every job is
		// cancelled at JobTimeout, so a job still "running" a little after
		// that has no live worker: rescue it then. River's rescuer runs
		// every 30 s, so a crashed replica's jobs are rescued within about
		// a minute; its requests' pending actions are queued again sooner
		// by the redrive sweep (redrive.go). A rescued job may overlap
		// nothing: the request lock and the counted attempt (the re-run
		// searches Redmine first, store_rewind.go) make it safe.
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: jobTimeout + rescueMargin,
		ErrorHandler:         &errorHandler{log: cfg.Log},
		// River logs through log/slog: its lines go into the product's
		// logger, in its format and at its log_level.
		Logger: slog.New(logging.NewSlogHandler(cfg.Log, "river")),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the job queue client: %w", err)
	}
	b.river = rc
	dl.SetJobClient(rc)
	if cm != nil {
		cm.SetJobClient(rc)
	}
	return b, nil
}

// JobTimeout bounds one job: a drain's few Redmine calls, each bounded by
// redmine.timeout, fit in twice that; at least 30 s.
func JobTimeout(redmineTimeout time.Duration) time.Duration {
	return max(30*time.Second, 2*redmineTimeout)
}

// rescueMargin is how long after JobTimeout a job still "running" is taken
// for the work of a dead process.
const rescueMargin = 10 * time.Second

// fetchCooldown is River's FetchCooldown: how soon after a fetch another may
// run, and the window in which inserts share one notification (see New).
const fetchCooldown = 10 * time.Millisecond

// Start runs the workers (and, on the elected leader, the periodic jobs)
// until Stop. ctx only bounds the start itself.
//
// River fact (river@v0.51.1, client.go): when the context given to
// Client.Start is cancelled, River stops and cancels running jobs at once
// (no soft stop) unless SoftStopTimeout is set. The client therefore runs on
// a context of its own, and Stop lets running jobs finish.
func (b *Bridge) Start(ctx context.Context) error {
	b.initCursor(ctx)
	if err := b.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the job queue: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and lets running ones finish within ctx; after
// that they are cancelled (their work is retried: each step is idempotent).
func (b *Bridge) Stop(ctx context.Context) error {
	err := b.river.Stop(ctx)
	if err == nil {
		return nil
	}
	b.log.WithError(err).Warn("jobs still running at the stop deadline: cancelling them (they will be retried)")
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cerr := b.river.StopAndCancel(cctx); cerr != nil {
		return fmt.Errorf("stopping the job queue: %w", cerr)
	}
	return nil
}

// errorHandler logs what River would otherwise only print: a job's error on
// its last attempt, and panics.
type errorHandler struct{ log *logrus.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	if job.Attempt >= job.MaxAttempts {
		h.log.WithFields(logrus.Fields{"job_kind": job.Kind, "job_id": job.ID, "attempt": job.Attempt}).WithError(err).
			Error("job failed on its last attempt and is discarded")
	}
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.WithFields(logrus.Fields{"job_kind": job.Kind, "job_id": job.ID, "panic": fmt.Sprint(panicVal), "trace": trace}).
		Error("job panicked")
	return nil
}

// River exposes the job client (for tools such as resync).
func (b *Bridge) River() *river.Client[pgx.Tx] { return b.river }

func (b *Bridge) now() time.Time { return b.cfg.Now() }

// directory returns the cached Redmine directory, loading it on first use
// and again every 10 minutes.
func (b *Bridge) directory(ctx context.Context) (*redmine.Directory, error) {
	b.dirMu.Lock()
	d, at := b.dir, b.dirLoaded
	b.dirMu.Unlock()
	if d != nil && time.Since(at) < 10*time.Minute {
		return d, nil
	}
	return b.reloadDirectory(ctx)
}

// reloadDirectory reads the directory again (at most every 30 s).
func (b *Bridge) reloadDirectory(ctx context.Context) (*redmine.Directory, error) {
	b.dirMu.Lock()
	defer b.dirMu.Unlock()
	if b.dir != nil && time.Since(b.dirLoaded) < 30*time.Second {
		return b.dir, nil
	}
	cfg := b.cfg.Holder.Get()
	var projects []string
	for _, c := range cfg.Categories {
		projects = append(projects, c.Redmine.Project)
	}
	d, err := b.rm.LoadDirectory(ctx, projects)
	if err != nil {
		if b.dir != nil {
			return b.dir, nil // keep working with what we knew
		}
		return nil, fmt.Errorf("reading Redmine's trackers, statuses and projects: %w", err)
	}
	b.dir, b.dirLoaded = d, time.Now()
	return d, nil
}

// backoffPolicy retries after 2s, 4s, 8s... capped, with ±20 % jitter so many
// jobs failing together (Redmine down) do not come back in one wave.
type backoffPolicy struct{ max time.Duration }

func (p *backoffPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Duration(math.Min(float64(p.max), float64(2*time.Second)*math.Pow(2, float64(job.Attempt-1))))
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Now().Add(time.Duration(float64(d) * jitter))
}

// ClientNotify returns the client notifications' service (nil when
// Config.Clients was).
func (b *Bridge) ClientNotify() *clientnotify.Service { return b.clientnotify }
