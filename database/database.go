package database

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultConnectTimeout bounds one connection attempt when the database URL
// has no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Open connects a pool to the database URL and checks it answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", redact(err))
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// Fail fast when PostgreSQL is unreachable: a connection attempt (dial,
	// TLS, startup) gives up after DefaultConnectTimeout unless the URL sets
	// connect_timeout, so a request waiting for a new connection is answered
	// (503) within seconds instead of hanging on a silent network.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reaching database %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// redact drops the text of a URL parse error, which may quote the password.
func redact(err error) error {
	if strings.Contains(err.Error(), "@") {
		return fmt.Errorf("malformed postgres URL")
	}
	return err
}

func provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker), goose.WithTableName("passerelle_schema_migrations"))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("loading migrations: %w", err)
	}
	return p, db, nil
}

// Migrate applies River's migrations, then Passerelle's, and returns a line
// per migration applied. Several replicas may run it at once: both take locks.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	var applied []string
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("applying river migrations: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river %03d %s", v.Version, v.Name))
	}
	p, db, err := provider(pool)
	if err != nil {
		return applied, err
	}
	defer db.Close()
	results, err := p.Up(ctx)
	if err != nil {
		return applied, fmt.Errorf("applying passerelle migrations: %w", err)
	}
	for _, r := range results {
		applied = append(applied, fmt.Sprintf("passerelle %05d %s", r.Source.Version, r.Source.Path))
	}
	return applied, nil
}

// CheckUpToDate returns an error naming what is missing when the database
// schema (River's or Passerelle's) is behind this binary.
func CheckUpToDate(ctx context.Context, pool *pgxpool.Pool) error {
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	vr, err := rm.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("checking river schema: %w", err)
	}
	if !vr.OK {
		return fmt.Errorf("river schema is not up to date (%s): run `passerelle migrate`", strings.Join(vr.Messages, "; "))
	}
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("checking passerelle schema: %w", err)
	}
	if pending {
		cur, _ := p.GetDBVersion(ctx)
		srcs := p.ListSources()
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `passerelle migrate`", cur, srcs[len(srcs)-1].Version)
	}
	return nil
}
