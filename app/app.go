// Package app builds the whole daemon from a configuration: the database
// pool, the customer-space store and service, the sync engine (bridge) and
// its deadlines, the Kratos clients, and the HTTP handlers. `passerelle serve`
// keeps only flags, listeners and signals; tests embed the daemon through New,
// Start, Handler, Reload and Stop (model: prometheus/alertmanager's app).
//
// Every route is mounted in routes.go, which lists them. Every background
// job (River kind, where its worker is, what queues it and when):
//
//	periodic, on the elected leader only (RunOnStart unless said)
//	  poll_redmine               bridge/poller.go      every redmine.poll_interval; one at a time (session lock LockPoll)
//	  redrive_stranded           bridge/redrive.go     every 10 s: requeues a killed process's pending requests
//	  purge_inbound_deliveries   bridge/purge.go       every hour
//	  deadline_watch             deadlines/watcher.go  every minute; one at a time (LockWatch)
//	  client_notification_sweep  notify/clientnotify   every notifications.sweep_interval (LockNotify)
//	  client_digest              notify/clientnotify   daily at notifications.digest_time, agency time zone
//	  identities_run_scheduled   identities/schedule.go every minute (LockIdentityActions)
//	queued by an action, any replica
//	  mirror_request, mirror_message  bridge/worker_mirror.go  a request or follow-up stored (same transaction)
//	  refresh_issue              bridge/poller.go      a Redmine webhook nudge
//	  retry_issue                bridge/poller.go      an issue the poll could not apply, retried on its own
//	  deadline_alert             deadlines/alert_job.go a warning or escalation claimed by the watcher
//	  client_notification        notify/clientnotify   one mail per event and recipient (sweep's transaction)
//	  outbound_webhook           notify/clientnotify   one delivery per endpoint and event (sweep's transaction)
//
// The bridge registers them all (bridge.New: its own, the deadlines
// service's, the client notifications', and bridge.Config.Jobs: the
// identities').
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sirupsen/logrus"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/database"
	"passerelle/espaceclient"
	"passerelle/espaceclient/web"
	"passerelle/identities"
	"passerelle/internal/hookguard"
	"passerelle/kratos"
	"passerelle/redmine"
)

// Options are what New needs; Config and Log are required.
type Options struct {
	Config *config.Config
	Log    *logrus.Logger
	// Pool is an open pool to use (tests hand theirs); when nil New opens one
	// from Config.Database and Close closes it.
	Pool *pgxpool.Pool
	// RedmineTransport carries the sync user's calls to Redmine (default
	// http.DefaultTransport).
	RedmineTransport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Workers, MaxRetryDelay and FetchPollInterval are the bridge's (zero:
	// its defaults; Workers zero takes the configuration's redmine.workers).
	Workers           int
	MaxRetryDelay     time.Duration
	FetchPollInterval time.Duration
	// NoPeriodic runs no periodic job (the poll, the sweeps, the deadline
	// watch): for tests that drive them by hand (bridge.Config.NoPeriodic).
	NoPeriodic bool
}

// App is one running daemon.
type App struct {
	log     *logrus.Logger
	holder  *config.Holder
	pool    *pgxpool.Pool
	ownPool bool
	store   *espaceclient.Store
	bridge  *bridge.Bridge
	service *espaceclient.Service
	flows   web.Flows
	handler http.Handler
	admin   http.Handler
	// registry holds every metric of this daemon (served on the admin
	// listener's /metrics): the Go and process collectors, the sync's, the
	// webhooks' and the reloads. One per App, so that several apps in one
	// process (tests) never collide.
	registry *prometheus.Registry
	hooks    *hookguard.Metrics
	reloaded *prometheus.CounterVec
}

// newRegistry returns the daemon's registry with the Go and process
// collectors (what the default registry served before).
func newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// newReloads registers the count of configuration reloads by result on r.
func newReloads(r prometheus.Registerer) *prometheus.CounterVec {
	return promauto.With(r).NewCounterVec(prometheus.CounterOpts{
		Name: "passerelle_config_reloads_total",
		Help: "Configuration reloads (SIGHUP) by result: applied, or refused (the current configuration stays).",
	}, []string{"result"})
}

// New builds everything a configuration implies, refusing to build on a
// database whose migrations are not up to date. Nothing runs before Start.
func New(ctx context.Context, opts Options) (*App, error) {
	if opts.Config == nil || opts.Log == nil {
		return nil, errors.New("app: Config and Log are required")
	}
	cfg := opts.Config
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{log: opts.Log, pool: opts.Pool, registry: newRegistry()}
	a.reloaded = newReloads(a.registry)
	a.hooks = hookguard.NewMetrics(a.registry)
	if a.pool == nil {
		pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), cfg.Database.MaxConns)
		if err != nil {
			return nil, err
		}
		a.pool, a.ownPool = pool, true
	}
	if err := database.CheckUpToDate(ctx, a.pool); err != nil {
		a.Close()
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	a.holder = config.NewHolder(cfg)
	rm := redmine.New(redmine.Config{URL: cfg.Redmine.URL, APIKey: cfg.Redmine.APIKey.Reveal(),
		Timeout: cfg.Redmine.Timeout, Transport: opts.RedmineTransport})
	a.store = espaceclient.NewStore(a.pool)
	directory := kratos.NewDirectory(cfg.Kratos.AdminURL, nil)
	ids, err := identities.New(identities.Config{Holder: a.holder, Pool: a.pool, Log: opts.Log, Now: opts.Now})
	if err != nil {
		a.Close()
		return nil, err
	}
	workers := opts.Workers
	if workers == 0 {
		workers = cfg.Redmine.Workers
	}
	br, err := bridge.New(bridge.Config{Holder: a.holder, Pool: a.pool, Store: a.store, Redmine: rm, Log: opts.Log,
		Now: opts.Now, Workers: workers, MaxRetryDelay: opts.MaxRetryDelay, FetchPollInterval: opts.FetchPollInterval,
		NoPeriodic: opts.NoPeriodic, Clients: directory, Jobs: []bridge.JobSet{ids}, Registerer: a.registry})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.bridge = br
	a.service = espaceclient.NewService(a.store, a.holder, br.Outbox(), opts.Now)
	a.service.SetDueLabel(br.Deadlines().DueLabel)
	a.flows = kratos.NewFlows(cfg.Kratos.PublicURL, nil).WithBrowserURL(cfg.Kratos.BrowserURL)
	a.handler, a.admin = a.routes(
		kratos.NewSessions(cfg.Kratos.PublicURL, nil),
		directory,
	)
	return a, nil
}

// Handler serves the customer-facing listener: the API, the hooks, health.
func (a *App) Handler() http.Handler { return a.handler }

// AdminHandler serves the admin listener: /metrics and health.
func (a *App) AdminHandler() http.Handler { return a.admin }

// Start runs the workers (and, on the elected leader, the periodic jobs).
func (a *App) Start(ctx context.Context) error { return a.bridge.Start(ctx) }

// Stop lets running jobs finish within ctx, then cancels them.
func (a *App) Stop(ctx context.Context) error { return a.bridge.Stop(ctx) }

// Close releases the pool New opened (not one handed in Options).
func (a *App) Close() {
	if a.ownPool && a.pool != nil {
		a.pool.Close()
	}
}

// Reload puts next in force if everything built from a configuration (the
// deadline rules, the mailer, the calendar) builds from it; else the current
// configuration stays and the error says why. Settings read at start
// (listen, admin_listen, database) need a restart.
func (a *App) Reload(next *config.Config) error {
	if err := a.holder.Apply(next); err != nil {
		a.reloaded.WithLabelValues("refused").Inc()
		return err
	}
	a.reloaded.WithLabelValues("applied").Inc()
	return nil
}

// Config returns the configuration in force.
func (a *App) Config() *config.Config { return a.holder.Get() }

// Bridge is the sync engine (for commands such as resync).
func (a *App) Bridge() *bridge.Bridge { return a.bridge }

// Gatherer is the daemon's metrics registry, the one /metrics serves.
func (a *App) Gatherer() prometheus.Gatherer { return a.registry }

// Pool is the database pool.
func (a *App) Pool() *pgxpool.Pool { return a.pool }

// Store is the customer space's store (requests, messages, their history).
func (a *App) Store() *espaceclient.Store { return a.store }
