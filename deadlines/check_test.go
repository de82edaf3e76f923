package deadlines

import (
	"context"
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/redmine"
)

// stackConfig loads the stack's configuration and returns it with the sync
// user's Redmine client.
func stackConfig(t *testing.T) (*config.Config, *redmine.Client) {
	t.Helper()
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_URL", "REDMINE_SYNC_API_KEY")
	t.Setenv("PASSERELLE_REDMINE_API_KEY", env[2])
	cfg, err := config.Load(env[0])
	if err != nil {
		t.Fatalf("loading the stack's config: %v", err)
	}
	return cfg, redmine.New(redmine.Config{URL: env[1], APIKey: env[2]})
}

func TestCheckLive(t *testing.T) {
	stack, rm := stackConfig(t)
	ctx := context.Background()
	cfg := *stack
	cfg.Deadlines.Escalation.RaisePriorityTo = "Haute"
	problems, _ := CheckLive(ctx, &cfg, rm)
	if !strings.Contains(strings.Join(problems, "\n"), `"Haute" is not a Redmine priority: expected one of Low, Normal, High`) {
		t.Errorf("problems = %q", problems)
	}
	cfg.Deadlines.Escalation.RaisePriorityTo = "High"
	problems, _ = CheckLive(ctx, &cfg, rm)
	// The private-note permission is reported exactly when the sync user lacks it.
	p, err := rm.Project(ctx, cfg.Categories[0].Redmine.Project)
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := rm.HasPermission(ctx, p.ID, "set_notes_private")
	if err != nil {
		t.Fatal(err)
	}
	reported := strings.Contains(strings.Join(problems, "\n"), "set_notes_private")
	if reported == allowed || len(problems) != map[bool]int{true: 0, false: 1}[allowed] {
		t.Errorf("sync user may set notes private: %v; problems = %q", allowed, problems)
	}
}
