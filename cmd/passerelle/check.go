package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/database"
	"passerelle/deadlines"
	"passerelle/notify"
	"passerelle/notify/clientnotify"
	"passerelle/redmine"
)

func cmdCheck(args []string) int {
	fs := newCommand("check", "Validate a configuration file. Prints one line per problem (file:line: what is expected) and exits 1 if any.\nWith --live, also checks every project, tracker, status, priority, group, user and custom field\nthat the rules name against the running Redmine, as the sync user.\nWith --probe (implies --live), also writes for real as the sync user and reads back: an issue with\nsubject \"passerelle probe\" in the first category's project (assignee, reference custom field,\nattachment, the reopen and close statuses, notes), and a mandate ticket with a subtask when a\ncategory needs one; then deletes them (with PASSERELLE_REDMINE_ADMIN_API_KEY when the sync user\nmay not delete issues; without it they are left closed and their URLs printed).")
	live := fs.Bool("live", false, "also check against the running Redmine")
	probe := fs.Bool("probe", false, "with --live: also a write round-trip in Redmine as the sync user (see above)")
	if code, done := parse(fs.FlagSet, args); done {
		return code
	}
	*live = *live || *probe
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	if msgs := checkTemplates(cfg); len(msgs) > 0 {
		for _, m := range msgs {
			fmt.Println(m)
		}
		fmt.Fprintf(os.Stderr, "%d problem(s)\n", len(msgs))
		return 1
	}
	if !*live {
		fmt.Printf("%s: OK (%d categories)\n", cfg.File, len(cfg.Categories))
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rm := redmine.New(redmine.Config{URL: cfg.Redmine.URL, APIKey: cfg.Redmine.APIKey.Reveal(), Timeout: cfg.Redmine.Timeout})
	var admin *redmine.Client
	if key := os.Getenv("PASSERELLE_REDMINE_ADMIN_API_KEY"); key != "" {
		admin = redmine.New(redmine.Config{URL: cfg.Redmine.URL, APIKey: key, Timeout: cfg.Redmine.Timeout})
	}
	problems, notes := bridge.CheckLive(ctx, cfg, rm, admin)
	dp, dn := deadlines.CheckLive(ctx, cfg, rm)
	problems, notes = append(problems, dp...), append(notes, dn...)
	if *probe {
		pp, pn := runProbe(ctx, cfg, rm, admin)
		problems, notes = append(problems, pp...), append(notes, pn...)
	}
	problems = append(problems, checkMirrorErrors(ctx, cfg)...)
	for _, n := range notes {
		fmt.Println("note:", n)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "%d problem(s)\n", len(problems))
		return 1
	}
	if *probe {
		fmt.Printf("%s: OK against %s (%d categories; probe: Redmine kept every write)\n", cfg.File, cfg.Redmine.URL, len(cfg.Categories))
		return 0
	}
	fmt.Printf("%s: OK against %s (%d categories)\n", cfg.File, cfg.Redmine.URL, len(cfg.Categories))
	return 0
}

// checkTemplates renders every mail with the overrides of
// notifications.templates_dir, as serve does before it starts or reloads:
// one line per mail family that no longer renders.
func checkTemplates(cfg *config.Config) []string {
	dir := cfg.Notifications.TemplatesDir
	if dir == "" {
		return nil
	}
	var out []string
	if _, err := notify.LoadTemplates(dir); err != nil {
		out = append(out, fmt.Sprintf("%s: staff alerts and invitations: %v", cfg.File, err))
	}
	if err := clientnotify.CheckTemplates(dir); err != nil {
		out = append(out, fmt.Sprintf("%s: clients' mails: %v", cfg.File, err))
	}
	return out
}

// checkMirrorErrors lists the requests stuck on a permanent Redmine error,
// when the database is reachable.
func checkMirrorErrors(ctx context.Context, cfg *config.Config) []string {
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 1)
	if err != nil {
		fmt.Println("note: database not reachable, requests not checked:", err)
		return nil
	}
	defer pool.Close()
	lines, err := bridge.MirrorErrors(ctx, pool)
	if err != nil {
		fmt.Println("note:", err)
	}
	return lines
}
