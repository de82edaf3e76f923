// Command bench measures the running passerelle binary against the real
// Redmine of the project's stack (`make stack`) and writes
// docs/BENCHMARKS.md with PNG charts of the latency distributions.
//
// It builds ./cmd/passerelle with `go build`, starts `passerelle serve` on
// throwaway databases with the stack's configuration (as users run it),
// drives it through the customer-space API with Kratos session cookies and
// Redmine's REST API as staff, counts its Redmine calls with a reverse proxy
// in front of Redmine, and measures the raw Redmine API in the same run.
// Nothing here asserts a timing: it reports figures, ratios and goals.
//
//	go run ./bench -n 500            # what `make bench` runs
//	go run ./bench -n 60 -out /tmp/b # a quick run while developing
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// env is one benchmark run: the stack, the built binary, the counting
// proxy and the load-generating tenants.
type env struct {
	st        *stack
	bin       string
	dir       string
	proxy     *countingProxy
	customers []*customer
	cleanups  []func()
}

// deployment is one passerelle installation of the run.
type deployment struct {
	d       *daemon
	prefix  string
	workers int
	drop    func()
}

func main() {
	n := flag.Int("n", 500, "requests in the throughput burst (less while developing)")
	sweepN := flag.Int("sweep-n", 0, "requests per burst of the workers sweep (default n/5, at least 40)")
	sweep := flag.String("workers", "1,2,4,8", "worker counts tried by the sweep (comma-separated)")
	out := flag.String("out", "docs", "folder of BENCHMARKS.md and its charts")
	full := flag.Int("full-workers", 0, "workers of the full burst and later sections (default: the configuration's default)")
	seedSizes := flag.String("seed", "1000,10000,100000", "requests seeded for sections 6, 7 and 9, one deployment each, 10 per client (\"\" skips them); 6 and 7 report the last")
	flag.Parse()
	if *sweepN == 0 {
		*sweepN = max(*n/5, 40)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var sizes []int
	for _, f := range strings.Split(*seedSizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		k, err := strconv.Atoi(f)
		if err != nil || k < 10 {
			fmt.Fprintf(os.Stderr, "bench: -seed %q: expected sizes such as 1000,10000,100000\n", *seedSizes)
			os.Exit(2)
		}
		sizes = append(sizes, k)
	}
	fullWorkers = *full
	if err := run(ctx, *n, *sweepN, *sweep, *out, sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// fullWorkers is -full-workers.
var fullWorkers int

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, n, sweepN int, sweep, out string, sizes []int) error {
	began := time.Now()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	st, err := loadStack(root)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "passerelle-bench")
	if err != nil {
		return err
	}
	e := &env{st: st, dir: dir}
	defer func() {
		for i := len(e.cleanups) - 1; i >= 0; i-- {
			e.cleanups[i]()
		}
		os.RemoveAll(dir)
		logf("removed %d mails of the benchmark's tenants from the stack's Maildir", deleteMail(e.customers))
	}()
	logf("building the binary")
	if e.bin, err = buildBinary(ctx, root, dir); err != nil {
		return err
	}
	if e.proxy, err = startProxy(st.redmineURL, st.referenceCF); err != nil {
		return err
	}
	e.cleanups = append(e.cleanups, e.proxy.close)
	for i := 0; i < 16; i++ {
		c, err := newTenant(ctx, st)
		if err != nil {
			return err
		}
		e.customers = append(e.customers, c)
		e.cleanups = append(e.cleanups, func() { deleteIdentity(st, c.id) })
	}
	r := &report{n: n, started: began.UTC()}
	if r.machine, err = describeMachine(ctx, st); err != nil {
		return err
	}

	// 1. Throughput: the workers sweep, then the full burst at the best count.
	var counts []int
	for _, s := range strings.Split(sweep, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || w < 1 {
			return fmt.Errorf("-workers %q: expected counts such as 1,2,4,8", sweep)
		}
		counts = append(counts, w)
	}
	if err := e.sectionThroughput(ctx, r, n, sweepN, counts, fullWorkers); err != nil {
		return err
	}
	// 2–5 and 8 on the deployment of the full burst.
	dep := r.mainDep
	steps := []struct {
		name string
		f    func(context.Context, *report, *deployment) error
	}{
		{"calls", e.sectionCalls},
		{"latency to Redmine", e.sectionLatencyOut},
		{"latency back", e.sectionLatencyBack},
		{"idle cost", e.sectionIdle},
	}
	for _, s := range steps {
		logf("section: %s", s.name)
		if err := s.f(ctx, r, dep); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	r.rssAfter = dep.d.rssKiB()
	dep.d.stop()
	if len(sizes) > 0 {
		logf("section: overdue sweep, pages and API on seeded databases of %v requests", sizes)
		if err := e.sectionSeeded(ctx, r, sizes); err != nil {
			return fmt.Errorf("seeded sections: %w", err)
		}
	}
	r.elapsed = time.Since(began)
	logf("writing %s", filepath.Join(out, "BENCHMARKS.md"))
	return r.write(out)
}

// newDeployment starts a passerelle installation with its own database and
// prefix, whose Redmine is the counting proxy, and files one warm-up
// request (it loads the Redmine directory) with the first tenant.
func (e *env) newDeployment(ctx context.Context, workers int) (*deployment, error) {
	dbURL, drop, err := newDatabase(ctx, e.st.adminDBURL)
	if err != nil {
		return nil, err
	}
	e.cleanups = append(e.cleanups, drop)
	prefix := uniquePrefix()
	d, err := writeConfig(e.st, e.dir, dbURL, e.proxy.url, prefix, map[string]string{"redmine.workers": strconv.Itoa(workers)})
	if err != nil {
		return nil, err
	}
	if err := d.start(ctx, e.st, e.bin); err != nil {
		return nil, err
	}
	e.cleanups = append(e.cleanups, d.stop)
	dep := &deployment{d: d, prefix: prefix, workers: workers, drop: drop}
	warm, err := e.customers[0].create(ctx, d.baseURL, "échauffement")
	if err != nil {
		return nil, err
	}
	if _, err := e.customers[0].waitMirrored(ctx, d.baseURL, warm.ID, 2*time.Minute); err != nil {
		return nil, err
	}
	return dep, nil
}
