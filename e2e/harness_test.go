// Package e2e proves the sync engine's promises on the running binary only.
//
// Every test builds nothing of Passerelle's internals: it runs `passerelle
// migrate` and one or more `passerelle serve` processes on a throwaway
// database, and talks to them only as people do — tenants through the
// customer-space JSON API with a Kratos session token, staff through
// Redmine's REST API with a staff member's key (never the sync user's), an
// operator through signals and the `check` and `resync` commands. The
// database is read only to count things in failure messages, never to drive
// behaviour.
//
// The binary is built once in TestMain (with -race when the tests are), or
// taken from PASSERELLE_BIN, so the same tests can be run against an older
// build:
//
//	PASSERELLE_BIN=/tmp/oldmain-bin/passerelle go test -count=1 ./e2e
//
// This file is over 400 lines on purpose: it is the suite's one fixture (a
// deployment and its processes, customers, staff, the Maildir, waiting),
// read as a whole by whoever writes a scenario; the scenarios themselves are
// one file each, and extra helpers live in helpers_more_test.go and
// stack_control_test.go.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"passerelle/internal/testenv"
	"passerelle/internal/yamlpath"
	"passerelle/kratos/kratostest"
)

// pollInterval is the Redmine poll interval every test configures.
const pollInterval = 2 * time.Second

// syncBound is how long a change may take to cross to the other side once
// the poller runs: one poll interval and a few seconds for a busy machine.
const syncBound = pollInterval + 10*time.Second

// binary is the passerelle executable under test.
var binary string

func TestMain(m *testing.M) {
	code, cleanup := setupBinary()
	if code != 0 {
		os.Exit(code)
	}
	code = m.Run()
	cleanup()
	os.Exit(code)
}

// setupBinary sets binary: PASSERELLE_BIN when set, otherwise a fresh build
// of ./cmd/passerelle (with -race when this test binary has it). Without the
// stack (no .stack/env) and outside CI nothing is built: every test skips.
func setupBinary() (code int, cleanup func()) {
	cleanup = func() {}
	if bin := os.Getenv("PASSERELLE_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: PASSERELLE_BIN=%s: %v\n", bin, err)
			return 1, cleanup
		}
		binary = abs
		fmt.Fprintf(os.Stderr, "e2e: testing %s\n", binary)
		return 0, cleanup
	}
	root := testenv.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, ".stack", "env")); err != nil && os.Getenv("CI") != "true" {
		return 0, cleanup // the tests skip (testenv.Env)
	}
	dir, err := os.MkdirTemp("", "passerelle-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1, cleanup
	}
	cleanup = func() { os.RemoveAll(dir) }
	binary = filepath.Join(dir, "passerelle")
	args := []string{"build", "-o", binary}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/passerelle")
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building passerelle (go %s): %v\n%s", strings.Join(args, " "), err, out)
		cleanup()
		return 1, func() {}
	}
	return 0, cleanup
}

// raceEnabled tells whether this test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// goTool returns the go command: the one on PATH, else the toolchain's own.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// ---- the stack ---------------------------------------------------------------

// stackInfo is what the tests need from .stack/env.
type stackInfo struct {
	configPath string
	redmineURL string
	// staffKey is a staff member's Redmine key (Marie Lefèvre, gestionnaire).
	staffKey string
	// syncKey is the sync user's key, given to the binary only.
	syncKey    string
	syncUserID int
	// referenceCF is the id of the "Réf. espace client" custom field.
	referenceCF      int
	statusFeedbackID int
}

// loadStack reads the stack's variables; it skips the test without the
// stack (fails it under CI=true), as testenv does.
func loadStack(t *testing.T) stackInfo {
	t.Helper()
	v := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_URL", "REDMINE_STAFF_API_KEY", "REDMINE_SYNC_API_KEY",
		"REDMINE_SYNC_USER_ID", "REDMINE_CF_REFERENCE_ID", "REDMINE_STATUS_FEEDBACK_ID", "TEST_DATABASE_ADMIN_URL",
		"KRATOS_PUBLIC_URL", "KRATOS_ADMIN_URL")
	atoi := func(name, s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, s, err)
		}
		return n
	}
	if binary == "" {
		t.Fatal("no passerelle binary: TestMain did not build one")
	}
	return stackInfo{
		configPath:       v[0],
		redmineURL:       strings.TrimRight(v[1], "/"),
		staffKey:         v[2],
		syncKey:          v[3],
		syncUserID:       atoi("REDMINE_SYNC_USER_ID", v[4]),
		referenceCF:      atoi("REDMINE_CF_REFERENCE_ID", v[5]),
		statusFeedbackID: atoi("REDMINE_STATUS_FEEDBACK_ID", v[6]),
	}
}

// ---- YAML configuration ------------------------------------------------------

// readYAML parses a YAML file into its document node (comments kept).
func readYAML(t *testing.T, path string) *yaml.Node {
	t.Helper()
	doc, err := yamlpath.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// yamlGet and yamlSet read and set the scalar at a dotted key path
// ("redmine.poll_interval").
var (
	yamlGet = yamlpath.Get
	yamlSet = yamlpath.Set
)

// stackSetting reads one setting of the stack's configuration file.
func stackSetting(t *testing.T, st stackInfo, path string) string {
	t.Helper()
	v, ok := yamlGet(readYAML(t, st.configPath), path)
	if !ok || v == "" {
		t.Fatalf("%s has no %s", st.configPath, path)
	}
	return v
}

// ---- deployments and processes ------------------------------------------------

// deployment is one Passerelle installation: a throwaway database, a
// reference prefix no other test uses (all tests share one Redmine), and the
// configuration files of its processes.
type deployment struct {
	t      *testing.T
	st     stackInfo
	dbURL  string
	prefix string
	dir    string
}

// prefixSince maps a deployment's reference prefix to a time before its
// first issue (see issuesOfPrefix).
var prefixSince sync.Map

// newDeployment creates an empty database (dropped when the test ends) and
// a unique reference prefix. Nothing is migrated yet: the binary does it.
func newDeployment(t *testing.T) *deployment {
	t.Helper()
	st := loadStack(t)
	d := &deployment{t: t, st: st, dir: t.TempDir(), prefix: uniquePrefix()}
	// Its issues are created from now on (a minute of margin for Redmine's
	// clock, whole seconds): issuesOfPrefix lists them by creation time.
	prefixSince.Store(d.prefix, time.Now().Add(-time.Minute))
	d.dbURL = testenv.NewEmptyDatabase(t)
	t.Logf("deployment: prefix %s, database %s", d.prefix, dbName(d.dbURL))
	return d
}

// instance is one configuration file of a deployment and where its API
// listens.
type instance struct {
	name    string
	path    string
	baseURL string
	// adminURL is the admin listener (/metrics), a free port of its own so
	// several processes run side by side.
	adminURL string
}

// writeConfig writes a configuration derived from the stack's: its own free
// loopback port, the deployment's database and prefix, poll_interval 2s,
// then the overrides (dotted key path → scalar).
func (d *deployment) writeConfig(name string, overrides map[string]string) instance {
	d.t.Helper()
	doc := readYAML(d.t, d.st.configPath)
	addr := "127.0.0.1:" + freePort(d.t)
	adminAddr := "127.0.0.1:" + freePort(d.t)
	yamlSet(doc, "listen", addr)
	yamlSet(doc, "admin_listen", adminAddr)
	yamlSet(doc, "public_url", "http://"+addr)
	// The e2e clients are load generators, not people: the per-identity
	// write limit (20 a minute by default) would answer their bursts 429.
	// espaceclient TestWriteRateLimitAnswers429AndStoresNothing proves the limit.
	yamlSet(doc, "limits.writes_per_minute", "6000")
	yamlSet(doc, "limits.writes_burst", "1000")
	yamlSet(doc, "reference_prefix", d.prefix)
	yamlSet(doc, "database.url", d.dbURL)
	yamlSet(doc, "redmine.poll_interval", pollInterval.String())
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		yamlSet(doc, k, overrides[k])
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		d.t.Fatal(err)
	}
	path := filepath.Join(d.dir, name+".yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		d.t.Fatal(err)
	}
	return instance{name: name, path: path, baseURL: "http://" + addr, adminURL: "http://" + adminAddr}
}

// env is the environment of every passerelle process: this one's without
// any PASSERELLE_* variable (no override of the written config), plus the
// sync user's key.
func (d *deployment) env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PASSERELLE_") {
			out = append(out, kv)
		}
	}
	return append(out, "PASSERELLE_REDMINE_API_KEY="+d.st.syncKey)
}

// run runs a passerelle command to its end (at most 2 minutes) and returns
// its exit code and combined output.
func (d *deployment) run(args ...string) (int, string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		d.t.Fatalf("passerelle %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return 0, string(out)
}

// migrate runs `passerelle migrate` with an instance's configuration.
func (d *deployment) migrate(in instance) {
	d.t.Helper()
	if code, out := d.run("migrate", "--config", in.path); code != 0 {
		d.t.Fatalf("passerelle migrate --config %s: exit %d\n%s", in.path, code, out)
	}
}

// replica is one `passerelle serve` process of an instance, which can be
// killed and started again. Its output (every start) goes to one log file,
// printed when the test fails.
type replica struct {
	t       *testing.T
	d       *deployment
	in      instance
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	starts int
}

// serve starts `passerelle serve` for an instance and waits until it is
// ready. The process is killed when the test ends.
func (d *deployment) serve(in instance) *replica {
	d.t.Helper()
	r := &replica{t: d.t, d: d, in: in, logPath: filepath.Join(d.dir, in.name+".log")}
	d.t.Cleanup(func() {
		r.kill()
		if d.t.Failed() {
			r.printLog()
		}
	})
	r.start()
	r.waitReady(60 * time.Second)
	return r
}

// start starts the process (it must not be running); it does not wait for
// readiness.
func (r *replica) start() {
	r.t.Helper()
	if err := r.startProcess(); err != nil {
		r.t.Fatal(err)
	}
}

// startProcess is start for any goroutine: it reports instead of failing.
func (r *replica) startProcess() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return fmt.Errorf("%s: start while running", r.in.name)
	}
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	r.starts++
	fmt.Fprintf(logf, "===== e2e: start %d of %s at %s =====\n", r.starts, r.in.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, "serve", "--config", r.in.path)
	cmd.Env = r.d.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: starting passerelle serve: %w", r.in.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		fmt.Fprintf(logf, "===== e2e: %s exited (%v) at %s =====\n", r.in.name, cmd.ProcessState, time.Now().Format(time.RFC3339Nano))
		logf.Close()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	return nil
}

// running tells whether the process is started and has not exited.
func (r *replica) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// ready tells whether /readyz answers 200.
func (r *replica) ready() bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(r.in.baseURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady waits until /readyz answers 200, failing the test after bound
// or if the process exits.
func (r *replica) waitReady(bound time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(bound)
	for !r.ready() {
		if !r.running() {
			r.t.Fatalf("%s: passerelle serve exited before being ready:\n%s", r.in.name, r.logTail(8000))
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: passerelle serve not ready after %s", r.in.name, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends sig and waits (at most bound) for the process to exit; it
// reports whether it did. A replica not running is left alone.
func (r *replica) signal(sig syscall.Signal, bound time.Duration) bool {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(bound):
		return false
	}
	r.mu.Lock()
	r.cmd, r.done = nil, nil
	r.mu.Unlock()
	return true
}

// kill SIGKILLs the process and waits for it to be gone.
func (r *replica) kill() {
	if !r.signal(syscall.SIGKILL, 15*time.Second) {
		r.t.Errorf("%s: still running 15 s after SIGKILL", r.in.name)
	}
}

// terminate sends SIGTERM and fails the test if the process has not stopped
// within 40 s (it is then killed).
func (r *replica) terminate() {
	r.t.Helper()
	if !r.signal(syscall.SIGTERM, 40*time.Second) {
		r.t.Errorf("%s: still running 40 s after SIGTERM", r.in.name)
		r.kill()
	}
}

// logTail returns the last max bytes of the replica's log.
func (r *replica) logTail(max int) string {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(data) > max {
		data = append([]byte(fmt.Sprintf("... (%d bytes before)\n", len(data)-max)), data[len(data)-max:]...)
	}
	return string(data)
}

// printLog writes the log into the test output: every line but the
// successful API access lines, at most the last 64 KiB of them.
func (r *replica) printLog() {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		r.t.Logf("no log of %s: %v", r.in.name, err)
		return
	}
	var keep []string
	dropped := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, `"msg":"api call"`) {
			dropped++
			continue
		}
		keep = append(keep, line)
	}
	text := strings.Join(keep, "\n")
	if len(text) > 64<<10 {
		text = fmt.Sprintf("... (%d bytes before)\n", len(text)-64<<10) + text[len(text)-64<<10:]
	}
	r.t.Logf("----- log of %s (%s; %d successful API access lines left out) -----\n%s\n----- end of log of %s -----",
		r.in.name, r.logPath, dropped, text, r.in.name)
}

// ---- the customer-space API, as a tenant ---------------------------------------

// customer is a tenant with a real Kratos identity and session.
type customer struct {
	t     *testing.T
	token string
	lot   string
	// email is the login address (where the client's mails go).
	email string
}

// newTenant creates a tenant identity holding one lot, logged in.
func newTenant(t *testing.T) *customer {
	t.Helper()
	lot := "E2E-" + randomString(6, "0123456789")
	_, email, token := kratostest.NewClient(t, "tenant", []string{lot}, nil)
	return &customer{t: t, token: token, lot: lot, email: email}
}

// apiMessage is one entry of a request's thread as the API shows it.
type apiMessage struct {
	ID           string    `json:"id"`
	AuthorKind   string    `json:"author_kind"`
	Kind         string    `json:"kind"`
	AuthorName   string    `json:"author_name"`
	Body         string    `json:"body"`
	ClientStatus string    `json:"client_status"`
	CreatedAt    time.Time `json:"created_at"`
}

// apiRequest is a request as the API shows it.
type apiRequest struct {
	ID             string       `json:"id"`
	Reference      string       `json:"reference"`
	Status         string       `json:"status"`
	Subject        string       `json:"subject"`
	RedmineIssueID *int         `json:"redmine_issue_id"`
	Messages       []apiMessage `json:"messages"`
}

// staffMessages returns the thread's staff messages.
func (r apiRequest) staffMessages() []apiMessage {
	var out []apiMessage
	for _, m := range r.Messages {
		if m.AuthorKind == "staff" {
			out = append(out, m)
		}
	}
	return out
}

// countBodies counts the thread's messages whose body contains text.
func (r apiRequest) countBodies(text string) int {
	n := 0
	for _, m := range r.Messages {
		if strings.Contains(m.Body, text) {
			n++
		}
	}
	return n
}

// apiHTTP is the HTTP client of the API calls; no keep-alive, so a call
// after a replica was killed never lands on a dead connection.
var apiHTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// call sends one API request with the session token (a JSON body when body
// is not nil) and decodes a 2xx JSON answer into out. err is a transport
// error (the replica is down, or died during the call).
func (c *customer) call(base, method, path string, body, out any) (status int, raw []byte, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Session-Token", c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, raw, err
	}
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, raw, nil
}

// mustCall is call that fails the test on a transport error or an
// unexpected status.
func (c *customer) mustCall(base, method, path string, body, out any, want int) {
	c.t.Helper()
	status, raw, err := c.call(base, method, path, body, out)
	if err != nil {
		c.t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	if status != want {
		c.t.Fatalf("%s %s%s: HTTP %d, want %d: %.500s", method, base, path, status, want, raw)
	}
}

// newRequestFields is a request of category "autre" (no lot, location or
// payer required).
func newRequestFields(subject, body string) map[string]string {
	return map[string]string{"category": "autre", "subject": subject, "body": body}
}

// create files a request (201).
func (c *customer) create(base, subject, body string) apiRequest {
	c.t.Helper()
	var r apiRequest
	c.mustCall(base, http.MethodPost, "/api/v1/requests", newRequestFields(subject, body), &r, http.StatusCreated)
	if r.ID == "" || r.Reference == "" {
		c.t.Fatalf("created request without id or reference: %+v", r)
	}
	return r
}

// get reads one request with its thread.
func (c *customer) get(base, id string) apiRequest {
	c.t.Helper()
	var r apiRequest
	c.mustCall(base, http.MethodGet, "/api/v1/requests/"+id, nil, &r, http.StatusOK)
	return r
}

// list reads the caller's requests (without threads).
func (c *customer) list(base string) []apiRequest {
	c.t.Helper()
	var out struct {
		Requests []apiRequest `json:"requests"`
	}
	c.mustCall(base, http.MethodGet, "/api/v1/requests", nil, &out, http.StatusOK)
	return out.Requests
}

// followUp posts a follow-up message (201) and returns its id.
func (c *customer) followUp(base, requestID, body string) string {
	c.t.Helper()
	var m apiMessage
	c.mustCall(base, http.MethodPost, "/api/v1/requests/"+requestID+"/messages", map[string]string{"body": body}, &m, http.StatusCreated)
	return m.ID
}

// closeRequest closes a request (200).
func (c *customer) closeRequest(base, requestID string) {
	c.t.Helper()
	c.mustCall(base, http.MethodPost, "/api/v1/requests/"+requestID+"/close", nil, nil, http.StatusOK)
}

// waitIssue waits until the request shows its Redmine issue number.
func (c *customer) waitIssue(base, requestID string, bound time.Duration) int {
	c.t.Helper()
	var issue int
	waitUntil(c.t, bound, "request "+requestID+" shows its Redmine issue", func() (bool, string) {
		r := c.get(base, requestID)
		if r.RedmineIssueID != nil {
			issue = *r.RedmineIssueID
			return true, ""
		}
		return false, fmt.Sprintf("%s status %s, no issue yet", r.Reference, r.Status)
	})
	return issue
}

// ---- Redmine, as staff ----------------------------------------------------------

// staff talks to Redmine's REST API with a staff member's key.
type staff struct {
	t    *testing.T
	base string
	key  string
	cf   int
}

// newStaff returns the stack's gestionnaire (REDMINE_STAFF_API_KEY).
func newStaff(t *testing.T, st stackInfo) *staff {
	return &staff{t: t, base: st.redmineURL, key: st.staffKey, cf: st.referenceCF}
}

// rmJournal is one journal of an issue.
type rmJournal struct {
	ID   int `json:"id"`
	User struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
	Notes        string `json:"notes"`
	PrivateNotes bool   `json:"private_notes"`
	Details      []struct {
		Property string `json:"property"`
		Name     string `json:"name"`
		OldValue string `json:"old_value"`
		NewValue string `json:"new_value"`
	} `json:"details"`
}

// rmIssue is an issue as Redmine answers it.
type rmIssue struct {
	ID      int    `json:"id"`
	Subject string `json:"subject"`
	Status  struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"status"`
	CustomFields []struct {
		ID    int             `json:"id"`
		Value json.RawMessage `json:"value"`
	} `json:"custom_fields"`
	Journals []rmJournal `json:"journals"`
}

// reference returns the issue's "Réf. espace client" value.
func (is rmIssue) reference(cf int) string {
	for _, f := range is.CustomFields {
		if f.ID == cf {
			var s string
			if json.Unmarshal(f.Value, &s) == nil {
				return s
			}
		}
	}
	return ""
}

// notesContaining returns the journals whose notes contain text.
func (is rmIssue) notesContaining(text string) []rmJournal {
	var out []rmJournal
	for _, j := range is.Journals {
		if strings.Contains(j.Notes, text) {
			out = append(out, j)
		}
	}
	return out
}

var redmineHTTP = &http.Client{Timeout: 60 * time.Second}

// call sends one request to Redmine with the staff key in the header.
func (s *staff) call(method, path string, query url.Values, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := s.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Redmine-API-Key", s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := redmineHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, raw, nil
}

// update PUTs an issue change as staff (Redmine answers 204).
func (s *staff) update(issueID int, change map[string]any) {
	s.t.Helper()
	status, raw, err := s.call(http.MethodPut, "/issues/"+strconv.Itoa(issueID)+".json", nil, map[string]any{"issue": change}, nil)
	if err != nil || status != http.StatusNoContent && status != http.StatusOK {
		s.t.Fatalf("staff: PUT issue %d %v: HTTP %d %v %.300s", issueID, change, status, err, raw)
	}
}

// addNote adds a note to an issue, private or public.
func (s *staff) addNote(issueID int, notes string, private bool) {
	s.t.Helper()
	s.update(issueID, map[string]any{"notes": notes, "private_notes": private})
}

// setStatus changes an issue's status, without a note.
func (s *staff) setStatus(issueID, statusID int) {
	s.t.Helper()
	s.update(issueID, map[string]any{"status_id": statusID})
}

// issue reads one issue with its journals.
func (s *staff) issue(issueID int) rmIssue {
	s.t.Helper()
	var out struct {
		Issue rmIssue `json:"issue"`
	}
	status, raw, err := s.call(http.MethodGet, "/issues/"+strconv.Itoa(issueID)+".json", url.Values{"include": {"journals"}}, nil, &out)
	if err != nil || status != http.StatusOK {
		s.t.Fatalf("staff: GET issue %d: HTTP %d %v %.300s", issueID, status, err, raw)
	}
	return out.Issue
}

// searchReference lists the issues (any status) whose reference custom
// field matches the filter value: "REF" (equal) or "~TEXT" (contains).
func (s *staff) searchReference(value string) []rmIssue {
	s.t.Helper()
	return s.searchIssues(fmt.Sprintf("cf_%d", s.cf), value)
}

// searchIssues lists every issue (any status) matching one filter.
func (s *staff) searchIssues(filter, value string) []rmIssue {
	s.t.Helper()
	var all []rmIssue
	for offset := 0; offset < 10000; {
		var page struct {
			Issues     []rmIssue `json:"issues"`
			TotalCount int       `json:"total_count"`
		}
		q := url.Values{"status_id": {"*"}, filter: {value}, "sort": {"id"},
			"limit": {"100"}, "offset": {strconv.Itoa(offset)}}
		status, raw, err := s.call(http.MethodGet, "/issues.json", q, nil, &page)
		if err != nil || status != http.StatusOK {
			s.t.Fatalf("staff: GET /issues.json?%s: HTTP %d %v %.300s", q.Encode(), status, err, raw)
		}
		all = append(all, page.Issues...)
		offset += len(page.Issues)
		if len(page.Issues) == 0 || offset >= page.TotalCount {
			break
		}
	}
	return all
}

// issuesOfReference returns the issues carrying exactly this reference.
func (s *staff) issuesOfReference(ref string) []rmIssue {
	s.t.Helper()
	var out []rmIssue
	for _, is := range s.searchReference(ref) {
		if is.reference(s.cf) == ref {
			out = append(out, is)
		}
	}
	return out
}

// issuesOfPrefix returns every issue whose reference starts with the
// deployment's prefix, by reference.
//
// Redmine fact (5.0.4 on SQLite, measured 2026-12-03 with 6,600 issues): a
// "contains" (~) or "starts with" (^) filter on a custom field takes about
// 20 s of Redmine's only CPU, an exact one 0.1 s, a created_on filter 0.5 s.
// Polled every few seconds by a waiting test, the "contains" search starved
// the very mirroring the test waited for (the 20-kill scenario failed on
// it). So a deployment's issues are listed by creation time, from just
// before the deployment was made, and filtered here by reference.
func (s *staff) issuesOfPrefix(prefix string) map[string][]rmIssue {
	s.t.Helper()
	out := map[string][]rmIssue{}
	var found []rmIssue
	if since, ok := prefixSince.Load(prefix); ok {
		found = s.searchIssues("created_on", ">="+since.(time.Time).UTC().Format("2006-01-02T15:04:05Z"))
	} else {
		found = s.searchReference("~" + prefix + "-")
	}
	for _, is := range found {
		if ref := is.reference(s.cf); strings.HasPrefix(ref, prefix+"-") {
			out[ref] = append(out[ref], is)
		}
	}
	return out
}

// ---- helpers ------------------------------------------------------------------------

// waitUntil calls cond until it reports done, at most for bound (a short
// pause between calls); on timeout it fails the test with what cond said
// last. It waits for asynchronous work and asserts nothing about speed
// beyond the bound.
func waitUntil(t *testing.T, bound time.Duration, what string, cond func() (done bool, state string)) {
	t.Helper()
	if !eventually(bound, cond) {
		_, state := cond()
		t.Fatalf("gave up after %s waiting for: %s\nlast state: %s", bound, what, state)
	}
}

// eventually is waitUntil that reports instead of failing.
func eventually(bound time.Duration, cond func() (bool, string)) bool {
	deadline := time.Now().Add(bound)
	for {
		if ok, _ := cond(); ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port free at the time of the call.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// randomString returns n characters drawn from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// randomInt returns a number in [0, n).
func randomInt(n int) int {
	k, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(k.Int64())
}

// uniquePrefix returns a reference prefix for one deployment: "E" and nine
// random capitals (the config allows ten capitals or digits).
func uniquePrefix() string { return "E" + randomString(9, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") }

// dbName returns the database name of a postgres URL.
func dbName(u string) string {
	base, _, _ := strings.Cut(u, "?")
	return base[strings.LastIndex(base, "/")+1:]
}

// jobCounts counts the deployment's River jobs by kind and state, for
// failure messages only (the tests never drive anything through the
// database).
func (d *deployment) jobCounts() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.dbURL)
	if err != nil {
		return fmt.Sprintf("(database not readable: %v)", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return fmt.Sprintf("(river_job not readable: %v)", err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var kind, state string
		var n int
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return err.Error()
		}
		parts = append(parts, fmt.Sprintf("%s/%s=%d", kind, state, n))
	}
	return "river_job: " + strings.Join(parts, " ")
}
