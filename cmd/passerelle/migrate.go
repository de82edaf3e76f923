package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"passerelle/database"
)

func cmdMigrate(args []string) int {
	fs := newCommand("migrate", "Apply River's and Passerelle's database migrations (safe to run from several replicas).")
	cfg, code, done := fs.load(args)
	if done {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle migrate:", err)
		return 1
	}
	defer pool.Close()
	applied, err := database.Migrate(ctx, pool)
	for _, a := range applied {
		fmt.Println("applied", a)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle migrate:", err)
		return 1
	}
	if len(applied) == 0 {
		fmt.Println("database schema already up to date")
	}
	return 0
}
