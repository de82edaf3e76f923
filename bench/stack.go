package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"passerelle/internal/yamlpath"
)

// stack is what the benchmark needs from .stack/env (written by `make stack`).
type stack struct {
	root        string
	configPath  string
	redmineURL  string
	syncKey     string
	staffKey    string
	adminDBURL  string
	projectID   int
	trackerID   int
	referenceCF int
	kratosPub   string
	kratosAdmin string
	// assigneeID and dueCF are what the configuration's rule for category
	// "autre" (the benchmark's requests) adds to each issue: its assignee
	// (a group: Redmine then mails the group's members) and the
	// "Échéance réponse" custom field. The raw POST sends them too.
	assigneeID, dueCF int
}

// loadStack reads .stack/env under root into a stack (variables already in
// the environment win, as internal/testenv does).
func loadStack(root string) (*stack, error) {
	f, err := os.Open(filepath.Join(root, ".stack", "env"))
	if err != nil {
		return nil, fmt.Errorf("reading the stack's variables (run `make stack` first): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, strings.Trim(v, `"'`))
		}
	}
	s := &stack{root: root}
	strs := map[string]*string{"PASSERELLE_CONFIG": &s.configPath, "REDMINE_URL": &s.redmineURL,
		"REDMINE_SYNC_API_KEY": &s.syncKey, "REDMINE_STAFF_API_KEY": &s.staffKey,
		"TEST_DATABASE_ADMIN_URL": &s.adminDBURL, "KRATOS_PUBLIC_URL": &s.kratosPub, "KRATOS_ADMIN_URL": &s.kratosAdmin}
	for k, p := range strs {
		if *p = os.Getenv(k); *p == "" {
			return nil, fmt.Errorf("%s is not set in .stack/env", k)
		}
	}
	ints := map[string]*int{"REDMINE_PROJECT_ID": &s.projectID, "REDMINE_TRACKER_DEMANDE_ID": &s.trackerID,
		"REDMINE_CF_REFERENCE_ID": &s.referenceCF}
	for k, p := range ints {
		n, err := strconv.Atoi(os.Getenv(k))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		*p = n
	}
	s.redmineURL = strings.TrimRight(s.redmineURL, "/")
	if err := s.readRule(); err != nil {
		return nil, err
	}
	return s, nil
}

// readRule reads category "autre"'s assignee and the response_due custom
// field from the stack's configuration.
func (s *stack) readRule() error {
	data, err := os.ReadFile(s.configPath)
	if err != nil {
		return fmt.Errorf("reading the stack's configuration: %w", err)
	}
	var cfg struct {
		Redmine struct {
			CustomFields struct {
				ResponseDue int `yaml:"response_due"`
			} `yaml:"custom_fields"`
		} `yaml:"redmine"`
		Categories []struct {
			ID      string `yaml:"id"`
			Redmine struct {
				Assignee struct {
					Group int `yaml:"group"`
					User  int `yaml:"user"`
				} `yaml:"assignee"`
			} `yaml:"redmine"`
		} `yaml:"categories"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", s.configPath, err)
	}
	s.dueCF = cfg.Redmine.CustomFields.ResponseDue
	for _, c := range cfg.Categories {
		if c.ID == "autre" {
			s.assigneeID = max(c.Redmine.Assignee.Group, c.Redmine.Assignee.User)
		}
	}
	return nil
}

// buildBinary builds ./cmd/passerelle as users do (no -race) into dir.
func buildBinary(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "passerelle")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/passerelle")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/passerelle: %w\n%s", err, out)
	}
	return bin, nil
}

// newDatabase creates an empty throwaway database, as internal/testenv
// does; drop removes it.
func newDatabase(ctx context.Context, adminURL string) (url string, drop func(), err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to the database server: %w", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "passerelle_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	drop = func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	base, query, _ := strings.Cut(adminURL, "?")
	url = base[:strings.LastIndex(base, "/")+1] + name
	if query != "" {
		url += "?" + query
	}
	return url, drop, nil
}

// freePort returns a loopback port free at the time of the call.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// daemon is one `passerelle serve` process of the benchmark.
type daemon struct {
	bin, configPath, logPath string
	baseURL, adminURL, dbURL string
	cmd                      *exec.Cmd
	done                     chan struct{}
}

// writeConfig derives the daemon's configuration from the stack's (the
// e2e harness does the same): its own ports, database and reference prefix,
// Redmine reached through redmineURL (the counting proxy), then overrides
// (dotted key → scalar).
func writeConfig(st *stack, dir, dbURL, redmineURL, prefix string, overrides map[string]string) (*daemon, error) {
	doc, err := yamlpath.Read(st.configPath)
	if err != nil {
		return nil, fmt.Errorf("reading the stack's configuration: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	set := map[string]string{
		"listen": "127.0.0.1:" + port, "admin_listen": "127.0.0.1:" + adminPort, "public_url": "http://127.0.0.1:" + port,
		"reference_prefix": prefix, "database.url": dbURL, "redmine.url": redmineURL, "log_level": "warn",
		"redmine.poll_interval": "10s",
		// The benchmark's clients are load generators: the per-identity write
		// limit (20 a minute) would answer their burst 429.
		"limits.writes_per_minute": "6000", "limits.writes_burst": "1000",
	}
	for k, v := range overrides {
		set[k] = v
	}
	for k, v := range set {
		yamlpath.Set(doc, k, v)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("writing the configuration: %w", err)
	}
	path := filepath.Join(dir, prefix+".yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return nil, fmt.Errorf("writing the configuration: %w", err)
	}
	return &daemon{configPath: path, logPath: filepath.Join(dir, prefix+".log"), baseURL: "http://" + set["listen"],
		adminURL: "http://" + set["admin_listen"], dbURL: dbURL}, nil
}

// env is the daemon's environment: ours without PASSERELLE_* overrides, and
// the sync user's key.
func (d *daemon) env(st *stack) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PASSERELLE_") {
			out = append(out, kv)
		}
	}
	return append(out, "PASSERELLE_REDMINE_API_KEY="+st.syncKey)
}

// start migrates the database and starts `passerelle serve`, waiting for
// /readyz.
func (d *daemon) start(ctx context.Context, st *stack, bin string) error {
	d.bin = bin
	mig := exec.CommandContext(ctx, bin, "migrate", "--config", d.configPath)
	mig.Env = d.env(st)
	if out, err := mig.CombinedOutput(); err != nil {
		return fmt.Errorf("passerelle migrate: %w\n%s", err, out)
	}
	return d.restart(ctx, st)
}

// restart starts `passerelle serve` (again) and waits for /readyz.
func (d *daemon) restart(ctx context.Context, st *stack) error {
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the daemon's log: %w", err)
	}
	d.cmd = exec.Command(d.bin, "serve", "--config", d.configPath)
	d.cmd.Env = d.env(st)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting passerelle serve: %w", err)
	}
	d.done = make(chan struct{})
	go func() { _ = d.cmd.Wait(); logf.Close(); close(d.done) }()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("passerelle serve exited before being ready (log: %s)", d.logPath)
		default:
		}
		if resp, err := c.Get(d.baseURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("passerelle serve not ready after 60 s (log: %s)", d.logPath)
}

// stop sends SIGTERM and waits for the process (SIGKILL after 40 s).
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(40 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// rssKiB reads the process' resident set size (VmRSS) from /proc.
func (d *daemon) rssKiB() int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return 0
}
