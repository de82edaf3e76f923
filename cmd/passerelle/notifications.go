package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/database"
	"passerelle/internal/fr"
	"passerelle/notify/clientnotify"
)

const notificationsUsage = `Usage: passerelle notifications failed|webhooks|enable-webhook [--config FILE] …

Mails to clients about their requests and the outbound webhooks (notify/clientnotify).

  passerelle notifications failed [--config FILE] [--limit N]
      the mails given up — refused for good by the mail server (an address that does not exist) or out of
      attempts after about 4 hours of a server that does not answer — newest first: when, to whom, about
      which request, why. They are never retried by themselves: fix the address in Kratos, the client hears
      at the next event.
  passerelle notifications webhooks [--config FILE]
      each outbound endpoint (webhooks.outbound): healthy, failing since when, or disabled (after failing for a
      day), its last error, and its deliveries pending, delivered and failed
  passerelle notifications enable-webhook [--config FILE] NAME
      enables a disabled endpoint again: the next events go out (the deliveries given up stay failed)`

func cmdNotifications(args []string) int {
	if len(args) > 0 && (args[0] == "webhooks" || args[0] == "enable-webhook") {
		return cmdWebhooks(args)
	}
	if len(args) == 0 || args[0] != "failed" {
		fmt.Fprintln(os.Stderr, notificationsUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	fs := newCommand("notifications failed", notificationsUsage)
	limit := fs.Int("limit", 50, "at most this many")
	if err := fs.FlagSet.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, ok := notificationsDB(ctx, fs)
	if !ok {
		return 1
	}
	defer pool.Close()
	list, err := clientnotify.ListFailed(ctx, pool, *limit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle notifications:", err)
		return 1
	}
	if len(list) == 0 {
		fmt.Println("no mail to a client given up")
		return 0
	}
	for _, f := range list {
		fmt.Printf("%s  %-30s  %-11s  %s  after %d attempt(s): %s\n", fr.DateTime(f.CreatedAt), f.Email, f.Event, f.Reference, f.Attempts, f.LastError)
	}
	return 0
}

func cmdWebhooks(args []string) int {
	fs := newCommand("notifications "+args[0], notificationsUsage)
	if err := fs.FlagSet.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if args[0] == "enable-webhook" && fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "passerelle notifications enable-webhook: name exactly one endpoint (webhooks.outbound[].name)")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, ok := notificationsDB(ctx, fs)
	if !ok {
		return 1
	}
	defer pool.Close()
	if args[0] == "enable-webhook" {
		ok, err := clientnotify.EnableEndpoint(ctx, pool, fs.Arg(0))
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "passerelle notifications:", err)
			return 1
		case !ok:
			fmt.Fprintf(os.Stderr, "passerelle notifications: no endpoint %q has been used yet\n", fs.Arg(0))
			return 1
		}
		fmt.Printf("%s: enabled\n", fs.Arg(0))
		return 0
	}
	list, err := clientnotify.ListEndpoints(ctx, pool)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle notifications:", err)
		return 1
	}
	if len(list) == 0 {
		fmt.Println("no outbound endpoint used yet")
	}
	for _, e := range list {
		state := "healthy"
		switch {
		case e.DisabledAt != nil:
			state = "DISABLED since " + fr.DateTime(*e.DisabledAt)
		case e.FailingSince != nil:
			state = "failing since " + fr.DateTime(*e.FailingSince)
		}
		fmt.Printf("%s: %s; %d pending, %d delivered, %d failed", e.Name, state, e.Pending, e.Delivered, e.Failed)
		if e.LastError != "" {
			fmt.Printf("; last error: %s", e.LastError)
		}
		fmt.Println()
	}
	return 0
}

// notificationsDB loads the configuration and opens its database (errors
// printed).
func notificationsDB(ctx context.Context, fs cmdFlags) (*pgxpool.Pool, bool) {
	cfg, ok := fs.config()
	if !ok {
		return nil, false
	}
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle notifications:", err)
		return nil, false
	}
	return pool, true
}
