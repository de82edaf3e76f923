package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"passerelle/kratos"
)

const identitiesUsage = `Manage the clients' Kratos identities (through Kratos' admin API, kratos.admin_url).

Usage:
  passerelle identities invite --email E --name "Prénom Nom" --role tenant|owner [--lot L]... [--mandate M]...
                               [--from DATE] [--print-link]
      creates the identity (metadata_public: role, lots, mandates) and mails, in French, a
      recovery link and code valid 48 h with which the client chooses a password; an existing
      e-mail is refused (use reinvite). --from schedules it (a tenant's move-in): the running
      serve sends it at that date (or run-scheduled). A tenant needs a lot, an owner a mandate.
  passerelle identities reinvite --email E [--print-link]
      mails a fresh 48 h link and code to an existing identity
  passerelle identities deactivate [--at DATE] ID|EMAIL
      sets the identity inactive, then deletes every one of its sessions: a later
      re-activation never brings an old session back; --at schedules it (a departure);
      the client's requests stay
  passerelle identities activate ID|EMAIL
      deletes any session left, then sets the identity active again (the client logs in again)
  passerelle identities list [--role tenant|owner] [--lot L]
      e-mail, name, role, lots, mandates, state, last login of every identity
  passerelle identities import --csv FILE [--dry-run]
      the management software's export (header row: email, name, role, lots, mandates; lots
      and mandates separated by | or ;): one report line per row (created and invited, already
      there, updated, refused with the line and why); a second run changes nothing
  passerelle identities scheduled
      the pending scheduled actions and those of the last 30 days (outcome or last error)
  passerelle identities run-scheduled
      carries out the due scheduled actions now (serve does it every minute)
  passerelle identities cancel N
      cancels the pending scheduled action number N (a move-in or a departure postponed)

Every action takes --config FILE. DATE is YYYY-MM-DD (00:00 that day) or "YYYY-MM-DD HH:MM",
in the calendar's time zone (Europe/Paris). ID is the Kratos identity id; EMAIL its login
e-mail (--id and --email are accepted too). --print-link shows the invitation's link on the
terminal (a secret: by default it goes only into the client's mail, never into a log).`

// identityActions are the identities subcommands.
var identityActions = map[string]func(action string, args []string) int{
	"deactivate":    cmdIdentityState,
	"activate":      cmdIdentityState,
	"invite":        cmdIdentityInvite,
	"reinvite":      cmdIdentityReinvite,
	"list":          cmdIdentityList,
	"import":        cmdIdentityImport,
	"scheduled":     cmdIdentityScheduled,
	"run-scheduled": cmdIdentityRunScheduled,
	"cancel":        cmdIdentityCancel,
}

func cmdIdentities(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, "Usage: passerelle identities invite|reinvite|deactivate|activate|list|import|scheduled|run-scheduled|cancel [options]\n\n"+identitiesUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	run, ok := identityActions[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "passerelle identities: unknown action %q (expected invite, reinvite, deactivate, activate, list, import, scheduled, run-scheduled or cancel)\n", args[0])
		return 2
	}
	return run(args[0], args[1:])
}

// cmdIdentityState is deactivate (now, or --at a date) and activate.
func cmdIdentityState(action string, args []string) int {
	fs := newCommand("identities "+action, identitiesUsage)
	id := fs.String("id", "", "Kratos identity id")
	email := fs.String("email", "", "login e-mail")
	at := ""
	if action == "deactivate" {
		fs.StringVar(&at, "at", "", "deactivate at this date (YYYY-MM-DD or \"YYYY-MM-DD HH:MM\", Europe/Paris) instead of now")
	}
	refs, code, done := parseInterleaved(fs.FlagSet, args)
	if done {
		return code
	}
	if *id != "" {
		refs = append(refs, *id)
	}
	if *email != "" {
		refs = append(refs, *email)
	}
	if len(refs) != 1 {
		fmt.Fprintf(os.Stderr, "passerelle identities %s: name exactly one identity (its id or its login e-mail)\n", action)
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if at != "" {
		return scheduleDeactivation(ctx, cfg, refs[0], at)
	}
	dir := kratos.NewDirectory(cfg.Kratos.AdminURL, nil)
	change := dir.Deactivate
	if action == "activate" {
		change = dir.Activate
	}
	ch, err := change(ctx, refs[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "passerelle identities %s: %v\n", action, err)
		return 1
	}
	sessions := "no session to revoke"
	if ch.SessionsRevoked {
		sessions = "every session revoked"
	}
	fmt.Printf("%s <%s>: %s -> %s, %s\n", ch.ID, ch.Email, ch.PreviousState, ch.State, sessions)
	return 0
}
