package bridge

// The retry policy against the documented budget: a pure-logic test of the
// default policy (backoffPolicy), internal; the integration tests are in
// package bridge_test.

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"passerelle/config"
	"passerelle/internal/testenv"
)

// Review "RetryBudget" (#4): the retry budget is the documented 72 h, and
// the attempts cap never ends the retries before it: with the production
// policy (max_retry_delay 5 m, jitter) the attempts span at least the budget.
func TestSyncRetryBudgetMatchesTheDocs(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	const documented = 72 * time.Hour
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "`redmine.retry_budget` (72 h by default") {
		t.Fatalf("README no longer documents a 72 h retry budget: update this test with the docs")
	}
	if config.DefaultRetryBudget != documented || cfg.Redmine.RetryBudget != documented {
		t.Errorf("retry budget: default %s, example config %s; README says %s", config.DefaultRetryBudget, cfg.Redmine.RetryBudget, documented)
	}
	p := &backoffPolicy{max: cfg.Redmine.MaxRetryDelay}
	for name, opts := range map[string]river.InsertOpts{
		"mirror_request": MirrorRequestArgs{}.InsertOpts(), "mirror_message": MirrorMessageArgs{}.InsertOpts(), "retry_issue": RetryIssueArgs{}.InsertOpts(),
	} {
		var span time.Duration
		for a := 1; a < opts.MaxAttempts; a++ {
			span += time.Until(p.NextRetry(&rivertype.JobRow{Attempt: a}))
		}
		if span < documented {
			t.Errorf("%s: %d attempts with max_retry_delay %s span %s, less than the %s budget", name, opts.MaxAttempts, cfg.Redmine.MaxRetryDelay, span.Round(time.Minute), documented)
		}
	}
}
