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
// What `make bench` runs (every default, explicitly; about 30 minutes):
//
//	go run ./bench -n 500 -webhook-notes 20 -steady 10m -load-n 256 -out docs
//
// A quick run while developing (a few minutes; -steady 0 -load-n 0
// -webhook-notes 0 -seed "" skip those sections):
//
//	go run ./bench -n 40 -workers 4 -webhook-notes 5 -steady 1m -load-n 40 -seed 1000 -out /tmp/b
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
	var o options
	flag.IntVar(&o.webhookNotes, "webhook-notes", 20, "staff notes of section 4 with the webhook plugin, on a second deployment at WEBHOOK_E2E_PORT (0 skips it)")
	flag.IntVar(&o.loadN, "load-n", 256, "requests per load level of section 9 (1×, 4×, 16× the burst's 16 clients), each side, at least the level's clients (0 skips it); 256, the 16× level's clients, keeps the section near 4 minutes")
	flag.DurationVar(&o.steady, "steady", 10*time.Minute, "section 8's steady load at half the throughput (0 skips it)")
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
	o.args = os.Args[1:]
	if err := run(ctx, *n, *sweepN, *sweep, *out, sizes, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// fullWorkers is -full-workers.
var fullWorkers int

// took is how long one section of the run took (-1: skipped).
type took struct {
	name string
	d    time.Duration
}

// options are the flags of the sections added after the first ones.
type options struct {
	webhookNotes, loadN int
	steady              time.Duration
	args                []string
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, n, sweepN int, sweep, out string, sizes []int, o options) error {
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
	r := &report{n: n, started: began.UTC(), args: o.args}
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
	t0 := time.Now()
	if err := e.sectionThroughput(ctx, r, n, sweepN, counts, fullWorkers); err != nil {
		return err
	}
	r.took = append(r.took, took{"1. throughput (sweep and full burst)", time.Since(t0)})
	// 2–5 and 8 on the deployment of the full burst; 4 with the webhook
	// plugin and 9's load levels on deployments of their own, then the
	// seeded ones. None of them runs while another deployment is measured
	// (the proxy's counts are every deployment's).
	dep := r.mainDep
	// A section marked soft that fails is reported as failed (its error in
	// its place in the report) and the run goes on: a long run is not lost
	// to one section (Redmine stalling, a busy port).
	steps := []struct {
		name       string
		skip, soft bool
		f          func() error
		failed     *string
	}{
		{"2. calls", false, false, func() error { return e.sectionCalls(ctx, r, dep) }, nil},
		{"3. latency to Redmine", false, false, func() error { return e.sectionLatencyOut(ctx, r, dep) }, nil},
		{"4. latency back, polling", false, false, func() error { return e.sectionLatencyBack(ctx, r, dep) }, nil},
		{"5. idle cost", false, false, func() error {
			err := e.sectionIdle(ctx, r, dep)
			r.rssAfter = dep.d.rssKiB()
			return err
		}, nil},
		{"4. latency back, webhook plugin", o.webhookNotes <= 0, true,
			func() error { return e.sectionWebhook(ctx, r, o.webhookNotes, dep.workers) }, &r.hook.failed},
		{"8. steady load", o.steady <= 0, true, func() error { return e.sectionSteady(ctx, r, dep, o.steady) }, &r.steadyMem.failed},
		{"", false, false, func() error { dep.d.stop(); return nil }, nil},
		{"9. load growth", o.loadN <= 0, true, func() error { return e.sectionLoad(ctx, r, o.loadN, dep.workers) }, &r.loadFailed},
		{"6, 7 and 9. seeded deployments (-seed)", len(sizes) == 0, false, func() error { return e.sectionSeeded(ctx, r, sizes) }, nil},
	}
	if o.webhookNotes <= 0 {
		r.hook.skipped = "-webhook-notes 0"
	}
	for _, s := range steps {
		if s.name == "" {
			_ = s.f()
			continue
		}
		if s.skip {
			r.took = append(r.took, took{s.name, -1})
			continue
		}
		logf("section: %s", s.name)
		if len(sizes) > 0 && strings.HasPrefix(s.name, "6,") {
			logf("seeded sizes: %v requests", sizes)
		}
		t := time.Now()
		if err := s.f(); err != nil {
			if !s.soft || ctx.Err() != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			logf("section %s failed, reported as such: %v", s.name, err)
			*s.failed = err.Error()
		}
		d := time.Since(t)
		if s.failed == &r.hook.failed && r.hook.skipped != "" {
			d = -1 // the port was busy
		}
		r.took = append(r.took, took{s.name, d})
	}
	r.elapsed = time.Since(began)
	logf("writing %s", filepath.Join(out, "BENCHMARKS.md"))
	return r.write(out)
}

// newDeployment starts a passerelle installation with its own database and
// prefix, whose Redmine is the counting proxy, and files one warm-up
// request (it loads the Redmine directory) with the first tenant.
func (e *env) newDeployment(ctx context.Context, workers int) (*deployment, error) {
	return e.newDeploymentWith(ctx, workers, nil, nil)
}

// newDeploymentWith is newDeployment with more configuration overrides
// (dotted key → scalar; "listen" also moves the API's base URL) and an edit
// of the written configuration file before the daemon starts.
func (e *env) newDeploymentWith(ctx context.Context, workers int, overrides map[string]string, edit func(path string) error) (*deployment, error) {
	dbURL, drop, err := newDatabase(ctx, e.st.adminDBURL)
	if err != nil {
		return nil, err
	}
	e.cleanups = append(e.cleanups, drop)
	prefix := uniquePrefix()
	set := map[string]string{"redmine.workers": strconv.Itoa(workers)}
	for k, v := range overrides {
		set[k] = v
	}
	d, err := writeConfig(e.st, e.dir, dbURL, e.proxy.url, prefix, set)
	if err != nil {
		return nil, err
	}
	if edit != nil {
		if err := edit(d.configPath); err != nil {
			return nil, err
		}
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
