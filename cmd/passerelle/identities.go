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
  passerelle identities deactivate [--config FILE] ID|EMAIL
      sets the identity inactive, then deletes every one of its sessions: a later
      re-activation never brings an old session back
  passerelle identities activate [--config FILE] ID|EMAIL
      deletes any session left, then sets the identity active again (the client logs in again)

ID is the Kratos identity id; EMAIL its login e-mail (--id and --email are accepted too).`

func cmdIdentities(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, "Usage: passerelle identities deactivate|activate [--config FILE] ID|EMAIL\n\n"+identitiesUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	action := args[0]
	if action != "deactivate" && action != "activate" {
		fmt.Fprintf(os.Stderr, "passerelle identities: unknown action %q (expected deactivate or activate)\n", action)
		return 2
	}
	fs := newFlags("identities "+action, identitiesUsage)
	cfgPath := configFlag(fs)
	id := fs.String("id", "", "Kratos identity id")
	email := fs.String("email", "", "login e-mail")
	refs, code, done := parseInterleaved(fs, args[1:])
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
	cfg, ok := loadConfig(*cfgPath)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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
