package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"passerelle/internal/testenv"
	"passerelle/redmine"
)

// These tests run `check --live --probe` against the stack's Redmine: it
// writes there as the sync user, then deletes what it wrote.

func adminClient(t *testing.T) *redmine.Client {
	vals := testenv.Env(t, "REDMINE_URL", "REDMINE_ADMIN_API_KEY")
	return redmine.New(redmine.Config{URL: vals[0], APIKey: vals[1]})
}

var createdRe = regexp.MustCompile(`probe: created (?:issue|mandate ticket) #(\d+)`)

// probeIssues returns the ids of the issues a probe's output says it created.
func probeIssues(t *testing.T, out string) []redmine.IssueID {
	var ids []redmine.IssueID
	for _, m := range createdRe.FindAllStringSubmatch(out, -1) {
		id, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, redmine.IssueID(id))
	}
	return ids
}

func TestCheckProbePassesOnTheStack(t *testing.T) {
	cfg, env := stackEnv(t)
	code, out := runBin(t, env, "check", "--live", "--probe", "--config", cfg)
	if code != 0 || !strings.Contains(out, "probe: Redmine kept every write") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"kept: tracker, assignee, reference, attachment", "kept: tracker, assignee, parent, reference, attachment",
		`status "In Progress" set`, `status "Closed" set`, "public note written and read back", "private note written and read back"} {
		if !strings.Contains(out, want) {
			t.Errorf("the probe did not report %q:\n%s", want, out)
		}
	}
	ids := probeIssues(t, out)
	if len(ids) != 3 {
		t.Fatalf("want 3 probe issues (mandate ticket, request, subtask), got %v:\n%s", ids, out)
	}
	marker := probeMarkerOf(t, out)
	admin := adminClient(t)
	for _, id := range ids {
		// Gone, or the id reused by someone else's newer issue (Redmine on SQLite reuses the highest id).
		if is, err := admin.GetIssue(context.Background(), id); !redmine.IsNotFound(err) && (err != nil || strings.Contains(is.Description, marker)) {
			t.Errorf("probe issue #%d still there after the probe (GET: %v):\n%s", id, err, out)
			deleteIfOurs(t, admin, id, marker)
		}
	}
}

var markerRe = regexp.MustCompile(`PROBE-\d{8}T\d{6}-[0-9a-f]{6}`)

// probeMarkerOf returns the marker a probe's output names.
func probeMarkerOf(t *testing.T, out string) string {
	m := markerRe.FindString(out)
	if m == "" {
		t.Fatalf("no PROBE- marker in the output:\n%s", out)
	}
	return m
}

// deleteIfOurs deletes issue id only if it still is the probe's (its id may
// have been reused by another test's issue since).
func deleteIfOurs(t *testing.T, admin *redmine.Client, id redmine.IssueID, marker string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if is, err := admin.GetIssue(ctx, id); err == nil && strings.Contains(is.Description, marker) {
		if err := admin.DeleteIssue(ctx, id); err != nil {
			t.Errorf("deleting probe issue #%d: %v", id, err)
		}
	}
}

// The probe must fail, saying which project and what is expected, when the
// configuration maps requests to a project the sync user cannot read; it
// writes nothing then.
func TestCheckProbeDetectsAMissingProject(t *testing.T) {
	cfg, env := stackEnv(t)
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(data), "project: gestion-locative", "project: passerelle-projet-absent")
	if doc == string(data) {
		t.Fatalf("the stack config names no project gestion-locative (run make stack)")
	}
	path := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runBin(t, env, "check", "--live", "--probe", "--config", path)
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		`probe: project "passerelle-projet-absent" (category travaux) cannot be read by the sync user`,
		"expected an existing project the sync user is a member of",
		`probe: no write round-trip in project "passerelle-projet-absent" (category travaux)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if ids := probeIssues(t, out); len(ids) != 0 {
		t.Errorf("the probe created issues %v in a configuration whose project is missing", ids)
	}
}

// Without a key that may delete issues, the probe leaves its issues closed,
// clearly marked, and prints where they are.
func TestCheckProbeLeavesMarkedIssuesWhenItCannotDelete(t *testing.T) {
	cfg, env := stackEnv(t)
	var noAdmin []string
	for _, e := range env {
		if !strings.HasPrefix(e, "PASSERELLE_REDMINE_ADMIN_API_KEY=") {
			noAdmin = append(noAdmin, e)
		}
	}
	noAdmin = append(noAdmin, "PASSERELLE_REDMINE_ADMIN_API_KEY=")
	code, out := runBin(t, noAdmin, "check", "--live", "--probe", "--config", cfg)
	ids := probeIssues(t, out)
	admin := adminClient(t)
	marker := probeMarkerOf(t, out)
	t.Cleanup(func() {
		for i := len(ids) - 1; i >= 0; i-- {
			deleteIfOurs(t, admin, ids[i], marker)
		}
	})
	if code != 0 || !strings.Contains(out, "probe: left in Redmine") || !strings.Contains(out, "PASSERELLE_REDMINE_ADMIN_API_KEY") {
		t.Fatalf("exit %d, want 0 and the issues left named:\n%s", code, out)
	}
	if len(ids) == 0 {
		t.Fatalf("no probe issue reported:\n%s", out)
	}
	for _, id := range ids {
		if !strings.Contains(out, "/issues/"+strconv.Itoa(int(id))) {
			t.Errorf("issue #%d left without its URL printed", id)
		}
		is, err := admin.GetIssue(context.Background(), id)
		if err != nil {
			t.Errorf("probe issue #%d: %v", id, err)
			continue
		}
		if is.Subject != "passerelle probe" || is.Status.Name != "Closed" || !strings.Contains(is.Description, marker) {
			t.Errorf("probe issue #%d left as %q, status %q: want subject \"passerelle probe\", closed", id, is.Subject, is.Status.Name)
		}
	}
}
