package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/deadlines"
)

// sweepQuery is one query of the overdue watcher's run (deadlines/store.go),
// with the parameters the daemon gives it.
type sweepQuery struct {
	name, sql string
	args      []any
	plan      string
	// exec is EXPLAIN ANALYZE's execution time; wall the median of five
	// plain runs from this client.
	exec, wall time.Duration
}

// seeded is what sections 6 and 7 measured on the seeded database.
type seeded struct {
	requests, clients int
	seedTime          time.Duration
	queries           []sweepQuery
	pages             []pageLoad
	rawList           pageLoad
	rawListTotal      int
	idle              idle
}

// pageLoad is one page or API call measured under load.
type pageLoad struct {
	name        string
	lat         []time.Duration
	perSec      float64
	concurrency int
}

// The watcher's queries when nothing is due: the texts it runs.
var watcherQueries = []struct{ name, sql string }{
	{"stale requests", deadlines.StaleRequestsSQL},
	{"alerts due", deadlines.AlertsDueSQL},
	{"due fields to write", deadlines.PendingDueFieldsSQL},
	{"abandoned alerts", deadlines.AbandonedAlertsSQL},
}

// sectionSeeded starts a deployment, learns its deadline rules version
// from the warm-up request, stops it, seeds the database, EXPLAINs the
// watcher's queries, restarts it and loads the pages and the API as one of
// the seeded clients.
func (e *env) sectionSeeded(ctx context.Context, r *report, sizes []int) error {
	for _, n := range sizes {
		logf("seeded deployment: %d requests of %d clients", n, max(n/10, 1))
		s, err := e.seededOnce(ctx, n, max(n/10, 1))
		if err != nil {
			return err
		}
		r.growth = append(r.growth, s)
		r.seeded = s
	}
	return nil
}

// seededOnce is one seeded deployment, measured.
func (e *env) seededOnce(ctx context.Context, requests, clients int) (seeded, error) {
	dep, err := e.newDeployment(ctx, 4)
	if err != nil {
		return seeded{}, err
	}
	conn, err := pgx.Connect(ctx, dep.d.dbURL)
	if err != nil {
		return seeded{}, fmt.Errorf("connecting to the seeded deployment's database: %w", err)
	}
	defer conn.Close(ctx)
	var rules string
	for i := 0; i < 100 && rules == ""; i++ {
		_ = conn.QueryRow(ctx, `SELECT rules_version FROM request_deadlines LIMIT 1`).Scan(&rules)
		if rules == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if rules == "" {
		return seeded{}, fmt.Errorf("the warm-up request has no deadline computation after 20 s")
	}
	dep.d.stop()
	c := e.customers[3]
	s := seeded{requests: requests, clients: clients}
	logf("seeding %d requests of %d clients", requests, clients)
	if s.seedTime, err = seed(ctx, conn, seedSpec{requests: requests, clients: clients, firstClient: c.id, prefix: dep.prefix, rulesVersion: rules}); err != nil {
		return seeded{}, err
	}
	args := [][]any{{rules, 200}, {time.Now(), 200}, {200}, {(time.Hour).Seconds(), 200}}
	for i, q := range watcherQueries {
		sq := sweepQuery{name: q.name, sql: q.sql, args: args[i]}
		rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, sq.args...)
		if err != nil {
			return seeded{}, fmt.Errorf("EXPLAIN %s: %w", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return seeded{}, fmt.Errorf("EXPLAIN %s: %w", q.name, err)
		}
		sq.plan = strings.Join(lines, "\n")
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "Execution Time:") {
				var msf float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "Execution Time:")), "%f", &msf)
				sq.exec = time.Duration(msf * float64(time.Millisecond))
			}
		}
		var walls []time.Duration
		for k := 0; k < 5; k++ {
			t := time.Now()
			rows, err := conn.Query(ctx, q.sql, sq.args...)
			if err != nil {
				return seeded{}, fmt.Errorf("%s: %w", q.name, err)
			}
			rows.Close()
			walls = append(walls, time.Since(t))
		}
		sq.wall = percentile(walls, 50)
		s.queries = append(s.queries, sq)
	}
	if err := dep.d.restart(ctx, e.st); err != nil {
		return seeded{}, err
	}
	var one apiRequest
	var list struct {
		Requests []apiRequest `json:"requests"`
	}
	if err := c.api(ctx, dep.d.baseURL, http.MethodGet, "/api/v1/requests", nil, &list, 200); err != nil || len(list.Requests) == 0 {
		return seeded{}, fmt.Errorf("the seeded client's list: %d requests, %v", len(list.Requests), err)
	}
	one = list.Requests[0]
	const conc, per = 4, 200
	for _, p := range []struct{ name, path string }{
		{"GET /api/v1/requests", "/api/v1/requests"},
		{"GET /api/v1/requests/{id}", "/api/v1/requests/" + one.ID},
		{"dashboard page GET /", "/"},
		{"request page GET /demandes/{id}", "/demandes/" + one.ID},
	} {
		pl, err := load(ctx, p.name, conc, per, func() error { return getOK(ctx, dep.d.baseURL+p.path, c.headers()) })
		if err != nil {
			return seeded{}, err
		}
		s.pages = append(s.pages, pl)
	}
	staff := redmineAs{base: e.st.redmineURL, key: e.st.staffKey}
	var page struct {
		TotalCount int `json:"total_count"`
	}
	const rawPath = "/issues.json?assigned_to_id=me&status_id=*&sort=updated_on:desc&limit=25"
	if _, _, err := staff.call(ctx, http.MethodGet, rawPath, nil, &page); err != nil {
		return seeded{}, err
	}
	s.rawListTotal = page.TotalCount
	if s.rawList, err = load(ctx, "Redmine GET "+rawPath+" (staff key)", conc, 30, func() error {
		return getOK(ctx, e.st.redmineURL+rawPath, http.Header{"X-Redmine-Api-Key": {e.st.staffKey}})
	}); err != nil {
		return seeded{}, err
	}
	if s.idle, err = e.measureIdle(ctx, dep, 3); err != nil {
		return seeded{}, err
	}
	dep.d.stop()
	return s, nil
}

// getOK GETs a URL and wants 200.
func getOK(ctx context.Context, u string, hdr http.Header) error {
	status, raw, err := doJSON(ctx, plainHTTP, http.MethodGet, u, hdr, nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.200s", u, status, raw)
	}
	return nil
}

// load runs n calls of f at the given concurrency.
func load(ctx context.Context, name string, concurrency, n int, f func() error) (pageLoad, error) {
	pl := pageLoad{name: name, lat: make([]time.Duration, n), concurrency: concurrency}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := f(); err != nil {
					errs <- err
				}
				pl.lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	pl.perSec = float64(n) / time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return pl, fmt.Errorf("%s: %w", name, err)
	}
	return pl, nil
}
