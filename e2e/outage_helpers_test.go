package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"passerelle/internal/testenv"
)

// Helpers of the outage scenarios (outage_test.go): stopping and starting
// PostgreSQL and Kratos for real, and timing and classifying every API
// answer while they are down.
//
// The commands default to the stack's own (pg_ctlcluster 15 main stop|start,
// scripts/stack-down.sh kratos, make stack). Each can be replaced by a shell
// command in the environment, to run the scenarios against a private
// PostgreSQL or Kratos (with TEST_DATABASE_ADMIN_URL, KRATOS_PUBLIC_URL,
// KRATOS_ADMIN_URL and PASSERELLE_CONFIG pointing at them) without stopping
// the shared ones:
//
//	PASSERELLE_E2E_POSTGRES_STOP   PASSERELLE_E2E_POSTGRES_START
//	PASSERELLE_E2E_KRATOS_STOP     PASSERELLE_E2E_KRATOS_START
//	PASSERELLE_E2E_STACK_RESTORE   (run at the end of each scenario, default `make stack`)

// outageHangGuard is the longest an API call may take while a component is
// down: a hang guard (a call that never answers), not a performance bound.
const outageHangGuard = 15 * time.Second

// stackCommand returns the command of one outage step: the environment's
// override (run with bash -c) or the default.
func stackCommand(env string, def ...string) []string {
	if v := strings.TrimSpace(os.Getenv(env)); v != "" {
		return []string{"bash", "-c", v}
	}
	return def
}

// runOutageCommand runs a stack command from the repository root (at most
// 5 minutes) and reports its error with its output.
func runOutageCommand(t *testing.T, argv []string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = testenv.RepoRoot()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	t.Logf("%s: done in %s", strings.Join(argv, " "), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// restoreStackWhenDone registers a cleanup that brings the whole stack back
// (`make stack`, idempotent), so a failing scenario never leaves a service
// down. Register it after the test's Kratos identities, so it runs before
// their deletion.
func restoreStackWhenDone(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if err := runOutageCommand(t, stackCommand("PASSERELLE_E2E_STACK_RESTORE", "make", "-C", testenv.RepoRoot(), "stack")); err != nil {
			t.Errorf("bringing the stack back: %v", err)
		}
	})
}

func stopPostgres(t *testing.T) {
	t.Helper()
	if err := runOutageCommand(t, stackCommand("PASSERELLE_E2E_POSTGRES_STOP", "pg_ctlcluster", "15", "main", "stop")); err != nil {
		t.Fatal(err)
	}
}

func startPostgres(t *testing.T) {
	t.Helper()
	if err := runOutageCommand(t, stackCommand("PASSERELLE_E2E_POSTGRES_START", "pg_ctlcluster", "15", "main", "start")); err != nil {
		t.Fatal(err)
	}
}

func stopKratos(t *testing.T) {
	t.Helper()
	if err := runOutageCommand(t, stackCommand("PASSERELLE_E2E_KRATOS_STOP", "bash", "scripts/stack-down.sh", "kratos")); err != nil {
		t.Fatal(err)
	}
}

func startKratos(t *testing.T) {
	t.Helper()
	if err := runOutageCommand(t, stackCommand("PASSERELLE_E2E_KRATOS_START", "make", "-C", testenv.RepoRoot(), "stack")); err != nil {
		t.Fatal(err)
	}
}

// kratosAnswers tells whether Kratos' public port answers at all.
func kratosAnswers(t *testing.T) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(strings.TrimRight(testenv.Get(t, "KRATOS_PUBLIC_URL"), "/") + "/health/alive")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// pid returns the process id of the running serve process (0 if none).
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// startCount returns how many times the replica was started.
func (r *replica) startCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts
}

// callOutcome is one API call as a client saw it.
type callOutcome struct {
	what        string
	at          time.Time
	dur         time.Duration
	status      int // 0: no answer (transport error)
	err         error
	raw         []byte
	contentType string
	retryAfter  string
	code        string // error.code of a JSON error
	message     string // error.message of a JSON error
}

func (o callOutcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("%s: no answer after %s: %v", o.what, o.dur.Round(time.Millisecond), o.err)
	}
	return fmt.Sprintf("%s: HTTP %d in %s (code %q, Retry-After %q): %.300s", o.what, o.status,
		o.dur.Round(time.Millisecond), o.code, o.retryAfter, o.raw)
}

// timedCall is customer.call that keeps the status, the timing, the
// Retry-After header and the JSON error of the answer; a 2xx JSON answer is
// decoded into out.
func (c *customer) timedCall(base, method, path string, body, out any) callOutcome {
	o := callOutcome{what: method + " " + path, at: time.Now()}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			o.err = err
			return o
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		o.err = err
		return o
	}
	req.Header.Set("X-Session-Token", c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiHTTP.Do(req)
	if err != nil {
		o.dur, o.err = time.Since(o.at), err
		return o
	}
	defer resp.Body.Close()
	o.raw, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	o.dur, o.status = time.Since(o.at), resp.StatusCode
	o.contentType, o.retryAfter = resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After")
	if err != nil {
		o.err = err
		return o
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(o.raw, &e) == nil {
			o.code, o.message = e.Error.Code, e.Error.Message
		}
	} else if out != nil && len(o.raw) > 0 {
		if err := json.Unmarshal(o.raw, out); err != nil {
			o.err = fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
	}
	return o
}

// unavailableProblem returns what is wrong with a 503 answer ("" when it is
// the clear JSON error the API promises): a JSON body
// {"error":{"code","message"}} with one of the codes allowed, a French
// message, and a Retry-After in seconds.
func unavailableProblem(o callOutcome, codes ...string) string {
	var problems []string
	if !strings.HasPrefix(o.contentType, "application/json") {
		problems = append(problems, fmt.Sprintf("Content-Type %q", o.contentType))
	}
	allowed := false
	for _, c := range codes {
		allowed = allowed || o.code == c
	}
	if !allowed {
		problems = append(problems, fmt.Sprintf("error code %q, want one of %v", o.code, codes))
	}
	if !strings.Contains(o.message, "momentanément indisponible") {
		problems = append(problems, fmt.Sprintf("message %q does not say the service is momentarily unavailable", o.message))
	}
	if n, err := strconv.Atoi(o.retryAfter); err != nil || n <= 0 {
		problems = append(problems, fmt.Sprintf("Retry-After %q, want a number of seconds", o.retryAfter))
	}
	return strings.Join(problems, "; ")
}

// outageTally counts the API answers of a scenario.
type outageTally struct {
	mu          sync.Mutex
	attempted   int
	created     int // 201
	unavailable int // 503 with the promised JSON error
	other       []string
	byCode      map[string]int
	maxDur      time.Duration
	maxDurWhat  string
}

// record counts one answer: a 201 (or 200 for a read), a well-formed 503,
// or anything else (a problem). It tells whether the call succeeded.
func (ta *outageTally) record(o callOutcome, okStatus int, codes ...string) bool {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.attempted++
	if o.dur > ta.maxDur {
		ta.maxDur, ta.maxDurWhat = o.dur, o.what+" at "+o.at.Format("15:04:05.000")
	}
	if ta.byCode == nil {
		ta.byCode = map[string]int{}
	}
	switch {
	case o.err == nil && o.status == okStatus:
		ta.created++
		return true
	case o.err == nil && o.status == http.StatusServiceUnavailable:
		if p := unavailableProblem(o, codes...); p != "" {
			ta.other = append(ta.other, o.String()+": "+p)
			return false
		}
		ta.unavailable++
		ta.byCode[o.code]++
		return false
	}
	ta.other = append(ta.other, o.String())
	return false
}

// summary writes the counts on one line.
func (ta *outageTally) summary() string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	codes := make([]string, 0, len(ta.byCode))
	for c, n := range ta.byCode {
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	return fmt.Sprintf("%d attempted, %d succeeded, %d answered 503 (%s), %d other; slowest %s (%s)",
		ta.attempted, ta.created, ta.unavailable, strings.Join(codes, " "), len(ta.other),
		ta.maxDur.Round(time.Millisecond), ta.maxDurWhat)
}

// ackedItem is something the API acknowledged (201): a request, or a
// follow-up (text != "") on a request.
type ackedItem struct {
	tenant    *customer
	requestID string
	reference string
	text      string
}

// checkAllInRedmineOnce checks that every request the tenants have is in
// Redmine exactly once (and shows that issue), that every acknowledged
// request is among them (nothing acknowledged lost), that every acknowledged
// follow-up is one note of its issue and one message of its thread, and
// that no issue of the prefix belongs to no request. It returns false and
// the first problems otherwise.
func checkAllInRedmineOnce(base, prefix string, rm *staff, tenants []*customer, acks []ackedItem) (bool, string) {
	var problems []string
	issues := rm.issuesOfPrefix(prefix)
	refs := map[string]bool{}
	known := map[string]bool{}
	for _, tn := range tenants {
		for _, r := range tn.list(base) {
			refs[r.Reference] = true
			known[r.ID] = true
			got := issues[r.Reference]
			if len(got) != 1 {
				problems = append(problems, fmt.Sprintf("%s: %d Redmine issues %v", r.Reference, len(got), issueIDs(got)))
				continue
			}
			if r.RedmineIssueID == nil || *r.RedmineIssueID != got[0].ID {
				problems = append(problems, fmt.Sprintf("%s: the client shows issue %s, Redmine has #%d", r.Reference, deref(r.RedmineIssueID), got[0].ID))
			}
		}
	}
	notes := map[string][]ackedItem{}
	for _, a := range acks {
		if !known[a.requestID] {
			problems = append(problems, fmt.Sprintf("acknowledged request %s (%s) is not in its client's list: lost", a.requestID, a.reference))
			continue
		}
		if a.text != "" {
			notes[a.requestID] = append(notes[a.requestID], a)
		}
	}
	for id, list := range notes {
		th := list[0].tenant.get(base, id)
		if th.RedmineIssueID == nil {
			problems = append(problems, fmt.Sprintf("%s: no issue yet for its follow-ups", th.Reference))
			continue
		}
		is := rm.issue(*th.RedmineIssueID)
		for _, a := range list {
			if n := th.countBodies(a.text); n != 1 {
				problems = append(problems, fmt.Sprintf("%s: %d messages in the thread for acknowledged %q, want 1", th.Reference, n, a.text))
			}
			if n := len(is.notesContaining(a.text)); n != 1 {
				problems = append(problems, fmt.Sprintf("%s: %d notes in #%d for %q, want 1", th.Reference, n, is.ID, a.text))
			}
		}
	}
	for ref, got := range issues {
		if !refs[ref] {
			problems = append(problems, fmt.Sprintf("%s: Redmine issues %v for a request no client has", ref, issueIDs(got)))
		}
	}
	sort.Strings(problems)
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
	}
	return len(problems) == 0, strings.Join(problems, "\n  ")
}
