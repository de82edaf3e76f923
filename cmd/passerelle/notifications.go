package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"passerelle/database"
	"passerelle/internal/fr"
	"passerelle/notify/clientnotify"
)

const notificationsUsage = `Usage: passerelle notifications failed [--config FILE] [--limit N]

Mails to clients about their requests (notify/clientnotify).

  passerelle notifications failed [--config FILE] [--limit N]
      the mails given up — refused for good by the mail server (an address that does not exist) or out of
      attempts after about 4 hours of a server that does not answer — newest first: when, to whom, about
      which request, why. They are never retried by themselves: fix the address in Kratos, the client hears
      at the next event.`

func cmdNotifications(args []string) int {
	if len(args) == 0 || args[0] != "failed" {
		fmt.Fprintln(os.Stderr, notificationsUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	fs := newFlags("notifications failed", notificationsUsage)
	cfgPath := configFlag(fs)
	limit := fs.Int("limit", 50, "at most this many")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, ok := loadConfig(*cfgPath)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle notifications:", err)
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
