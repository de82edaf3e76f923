package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// idle is the cost of the idle daemon per poll cycle.
type idle struct {
	cycles   int
	mirrored int
	calls    map[string]int
	// xacts is the deployment database's committed + rolled back
	// transactions (pg_stat_database) over the window.
	xacts int64
	// statements says whether pg_stat_statements could count queries.
	statements string
	// jobs is River's jobs by kind and state at the end of the window.
	jobs string
	// listed is the largest total_count of the poller's lists: the issues
	// carrying a reference updated within the poll overlap.
	listed int
	// polls, tight and wide are the daemon's own counts over the window
	// (/metrics: passerelle_poll_duration_seconds_count and
	// passerelle_poll_list_requests_total by window); ok false when the
	// scrape failed.
	polls, tight, wide float64
	split              bool
}

// tightPerPoll is the recurring cost: the tight window's list requests per
// poll (the overlap re-read's pages come once per redmine.poll_overlap).
func (i idle) tightPerPoll() float64 { return i.tight / max(i.polls, 1) }

// perCycle is the Redmine calls per poll cycle.
func (i idle) perCycle() float64 {
	total := 0
	for _, v := range i.calls {
		total += v
	}
	return float64(total) / float64(i.cycles)
}

// dbXacts reads the database's transaction counters. PostgreSQL 15 flushes
// a backend's counters at transaction end (at most once a second when
// busy), so a window of several seconds is needed.
func dbXacts(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading pg_stat_database: %w", err)
	}
	return n, nil
}

// sectionIdle waits until the daemon is idle, then counts its Redmine calls
// and database transactions over three poll cycles.
func (e *env) sectionIdle(ctx context.Context, r *report, dep *deployment) error {
	// 13 cycles of 10 s: more than the 2-minute overlap, so one re-read of
	// the overlap falls in the window and the average includes its pages.
	res, err := e.measureIdle(ctx, dep, 13)
	r.idle = res
	return err
}

// measureIdle is sectionIdle for any deployment.
func (e *env) measureIdle(ctx context.Context, dep *deployment, cycles int) (idle, error) {
	poll := 10 * time.Second
	e.waitQuiet(e.proxy.mark(), poll, 2*time.Minute)
	conn, err := pgx.Connect(ctx, dep.d.dbURL)
	if err != nil {
		return idle{}, fmt.Errorf("connecting to the deployment's database: %w", err)
	}
	defer conn.Close(ctx)
	res := idle{cycles: cycles, statements: "not installed (shared_preload_libraries has no pg_stat_statements): transactions from pg_stat_database instead"}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')`).Scan(&ok); err == nil && ok {
		res.statements = "pg_stat_statements is installed but this run does not read it: transactions from pg_stat_database"
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM requests WHERE redmine_issue_id IS NOT NULL`).Scan(&res.mirrored); err != nil {
		return idle{}, fmt.Errorf("counting mirrored requests: %w", err)
	}
	before, err := dbXacts(ctx, conn)
	if err != nil {
		return idle{}, err
	}
	mark := e.proxy.mark()
	m0, err0 := dep.d.scrape(ctx)
	time.Sleep(time.Duration(cycles) * poll)
	m1, err1 := dep.d.scrape(ctx)
	if err0 == nil && err1 == nil {
		delta := func(name, labels string) float64 {
			a, _ := m0.sum(name, labels)
			b, _ := m1.sum(name, labels)
			return b - a
		}
		res.polls = delta("passerelle_poll_duration_seconds_count", "")
		res.tight = delta("passerelle_poll_list_requests_total", `window="tight"`)
		res.wide = delta("passerelle_poll_list_requests_total", `window="wide"`)
		res.split = true
	}
	after, err := dbXacts(ctx, conn)
	if err != nil {
		return idle{}, err
	}
	// Our own two reads are transactions too.
	res.xacts = after - before - 1
	rows, err := conn.Query(ctx, `SELECT kind || '/' || state::text || '=' || count(*) FROM river_job
		WHERE state <> 'completed' OR finalized_at > now() - interval '1 minute' GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return idle{}, fmt.Errorf("counting River's jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return idle{}, fmt.Errorf("counting River's jobs: %w", err)
	}
	res.jobs = strings.Join(jobs, ", ")
	calls := e.proxy.since(mark)
	res.calls = countByClass(calls)
	for _, c := range calls {
		res.listed = max(res.listed, c.total)
	}
	return res, nil
}
