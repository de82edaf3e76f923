package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"passerelle/bridge"
	"passerelle/config"
	"passerelle/database"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

func cmdResync(args []string) int {
	fs := newCommand("resync", "Queue again the mirroring of everything not in Redmine yet: requests without an issue (clearing\ntheir recorded error) and client messages or closings not mirrored. Run it after fixing the cause\nof a permanent error that `passerelle check --live` reported. A running `passerelle serve` does the work.\n\nWith --after-restore, first make every request filed so far searched for in Redmine before its\nissue is created (run it after restoring the database by a means PostgreSQL cannot notice,\nsee docs/RELIABILITY.md \"Restoring the database\").\n\nUsage: passerelle resync [--config FILE] [--after-restore] [REF...]")
	afterRestore := fs.Bool("after-restore", false, "search Redmine before creating the issue of every request filed so far")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle resync:", err)
		return 1
	}
	defer pool.Close()
	if err := database.CheckUpToDate(ctx, pool); err != nil {
		fmt.Fprintln(os.Stderr, "passerelle resync:", err)
		return 1
	}
	if *afterRestore {
		if err := bridge.MarkAllForSearch(ctx, pool); err != nil {
			fmt.Fprintln(os.Stderr, "passerelle resync:", err)
			return 1
		}
		fmt.Println("every request filed so far will be searched for in Redmine before its issue is created")
	}
	log := newLogger("warn")
	rm := redmine.New(redmine.Config{URL: cfg.Redmine.URL, APIKey: cfg.Redmine.APIKey.Reveal(), Timeout: cfg.Redmine.Timeout})
	br, err := bridge.New(bridge.Config{Holder: config.NewHolder(cfg), Pool: pool, Store: espaceclient.NewStore(pool), Redmine: rm, Log: log, NoPeriodic: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle resync:", err)
		return 1
	}
	lines, err := br.Resync(ctx, fs.Args())
	for _, l := range lines {
		fmt.Println(l)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle resync:", err)
		return 1
	}
	if len(lines) == 0 {
		fmt.Println("nothing to resync: everything is in Redmine")
	}
	return 0
}
