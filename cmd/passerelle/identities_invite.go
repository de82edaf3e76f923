package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"passerelle/config"
	"passerelle/database"
	"passerelle/identities"
	"passerelle/internal/fr"
	"passerelle/kratos"
)

// listFlag is a repeatable flag (--lot A12 --lot B3); a value may also hold
// several, separated by commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, identities.SplitList(v, ",")...)
	return nil
}

// identityService builds the identities service; with db, on an open,
// up-to-date database (close it with the returned func).
func identityService(ctx context.Context, cfg *config.Config, db bool) (*identities.Service, func(), error) {
	opts := identities.Config{Holder: config.NewHolder(cfg), Log: newLogger("warn")}
	closer := func() {}
	if db {
		pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 2)
		if err != nil {
			return nil, closer, err
		}
		if err := database.CheckUpToDate(ctx, pool); err != nil {
			pool.Close()
			return nil, closer, err
		}
		opts.Pool, closer = pool, pool.Close
	}
	s, err := identities.New(opts)
	return s, closer, err
}

func cmdIdentityInvite(action string, args []string) int {
	fs := newCommand("identities invite", identitiesUsage)
	email := fs.String("email", "", "the client's e-mail (the login)")
	name := fs.String("name", "", `the client's name, "Prénom Nom"`)
	role := fs.String("role", "", "tenant or owner")
	var lots, mandates listFlag
	fs.Var(&lots, "lot", "a lot the client holds (repeat the flag for several)")
	fs.Var(&mandates, "mandate", "a management mandate of the owner (repeat the flag for several)")
	from := fs.String("from", "", `send the invitation at this date (YYYY-MM-DD or "YYYY-MM-DD HH:MM", Europe/Paris) instead of now`)
	printLink := fs.Bool("print-link", false, "also print the invitation link (a secret) on the terminal")
	if code, done := parse(fs.FlagSet, args); done {
		return code
	}
	r, err := identities.ParseRole(*role)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities invite:", err)
		return 2
	}
	first, last := identities.SplitName(*name)
	rec := kratos.ClientRecord{Email: *email, First: first, Last: last, Role: r, Lots: lots, Mandates: mandates}
	if err := identities.Validate(&rec); err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities invite:", err)
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, *from != "")
	defer closeDB()
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities invite:", err)
		return 1
	}
	if *from != "" {
		at, err := identities.ParseWhen(*from, s.Location())
		if err != nil {
			fmt.Fprintln(os.Stderr, "passerelle identities invite:", err)
			return 2
		}
		id, err := s.ScheduleInvite(ctx, rec, at)
		if err != nil {
			fmt.Fprintln(os.Stderr, "passerelle identities invite:", err)
			return 1
		}
		fmt.Printf("invitation de %s prévue le %s (action n° %d)\n", rec.Email, fr.LongDateTime(at.In(s.Location())), id)
		return 0
	}
	inv, err := s.Invite(ctx, rec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities invite:", err)
		return 1
	}
	printInvited(s, inv, *printLink)
	return 0
}

func cmdIdentityReinvite(action string, args []string) int {
	fs := newCommand("identities reinvite", identitiesUsage)
	email := fs.String("email", "", "the client's login e-mail")
	printLink := fs.Bool("print-link", false, "also print the invitation link (a secret) on the terminal")
	pos, code, done := parseInterleaved(fs.FlagSet, args)
	if done {
		return code
	}
	if *email != "" {
		pos = append(pos, *email)
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "passerelle identities reinvite: name exactly one identity (--email E)")
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, false)
	defer closeDB()
	if err == nil {
		var inv identities.Invited
		if inv, err = s.Reinvite(ctx, pos[0]); err == nil {
			printInvited(s, inv, *printLink)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "passerelle identities reinvite:", err)
	return 1
}

func printInvited(s *identities.Service, inv identities.Invited, printLink bool) {
	what := "invitation envoyée"
	if inv.Created {
		what = "identité créée, invitation envoyée"
	}
	fmt.Printf("%s <%s> : %s (lien et code valables jusqu'au %s)\n", inv.ID, inv.Email, what,
		fr.LongDateTime(inv.ExpiresAt.In(s.Location())))
	if printLink {
		fmt.Println("lien :", inv.Link)
	}
}

func scheduleDeactivation(ctx context.Context, cfg *config.Config, ref, at string) int {
	s, closeDB, err := identityService(ctx, cfg, true)
	defer closeDB()
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities deactivate:", err)
		return 1
	}
	when, err := identities.ParseWhen(at, s.Location())
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities deactivate:", err)
		return 2
	}
	id, err := s.ScheduleDeactivate(ctx, ref, when)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities deactivate:", err)
		return 1
	}
	fmt.Printf("désactivation de %s prévue le %s (action n° %d)\n", strings.TrimSpace(ref),
		fr.LongDateTime(when.In(s.Location())), id)
	return 0
}

func cmdIdentityScheduled(action string, args []string) int {
	fs := newCommand("identities scheduled", identitiesUsage)
	cfg, code, done := fs.load(args)
	if done {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, true)
	defer closeDB()
	var list []identities.Action
	if err == nil {
		list, err = s.Scheduled(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities scheduled:", err)
		return 1
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "N°\tACTION\tE-MAIL\tPRÉVUE LE\tÉTAT")
	for _, a := range list {
		state := "en attente"
		switch {
		case a.DoneAt != nil:
			state = "fait le " + fr.DateTime(a.DoneAt.In(s.Location())) + " : " + a.Outcome
		case a.Error != "":
			state = fmt.Sprintf("en échec (%d essais) : %s", a.Attempts, a.Error)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.ID, a.Kind, a.Email, fr.DateTime(a.RunAt.In(s.Location())), state)
	}
	tw.Flush()
	return 0
}

func cmdIdentityRunScheduled(action string, args []string) int {
	fs := newCommand("identities run-scheduled", identitiesUsage)
	cfg, code, done := fs.load(args)
	if done {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, true)
	defer closeDB()
	var st identities.RunStats
	if err == nil {
		st, err = s.RunDue(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities run-scheduled:", err)
		return 1
	}
	if st.Skipped {
		fmt.Println("une autre exécution est en cours (serve ou run-scheduled) : rien fait")
		return 0
	}
	fmt.Printf("%d action(s) faite(s), %d en échec (voir passerelle identities scheduled)\n", st.Done, st.Failed)
	if st.Failed > 0 {
		return 1
	}
	return 0
}

func cmdIdentityCancel(action string, args []string) int {
	fs := newCommand("identities cancel", identitiesUsage)
	pos, code, done := parseInterleaved(fs.FlagSet, args)
	if done {
		return code
	}
	var id int64
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "passerelle identities cancel: name exactly one scheduled action (its number, see scheduled)")
		return 2
	}
	if _, err := fmt.Sscan(pos[0], &id); err != nil || id <= 0 {
		fmt.Fprintf(os.Stderr, "passerelle identities cancel: %q is not an action number\n", pos[0])
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, true)
	defer closeDB()
	var a identities.Action
	if err == nil {
		a, err = s.Cancel(ctx, id)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities cancel:", err)
		return 1
	}
	fmt.Printf("action n° %d annulée (%s de %s prévue le %s)\n", a.ID, a.Kind, a.Email, fr.DateTime(a.RunAt.In(s.Location())))
	return 0
}
