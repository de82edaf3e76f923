package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"passerelle/identities"
	"passerelle/internal/fr"
	"passerelle/kratos"
)

func cmdIdentityList(action string, args []string) int {
	fs := newCommand("identities list", identitiesUsage)
	role := fs.String("role", "", "only this role (tenant or owner)")
	lot := fs.String("lot", "", "only the identities holding this lot")
	if code, done := parse(fs.FlagSet, args); done {
		return code
	}
	if *role != "" {
		r, err := identities.ParseRole(*role)
		if err != nil {
			fmt.Fprintln(os.Stderr, "passerelle identities list:", err)
			return 2
		}
		*role = string(r)
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, false)
	defer closeDB()
	var list []kratos.Client
	if err == nil {
		list, err = s.Directory().ListClients(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities list:", err)
		return 1
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "E-MAIL\tNOM\tRÔLE\tLOTS\tMANDATS\tÉTAT\tDERNIÈRE CONNEXION")
	n := 0
	for _, c := range list {
		if (*role != "" && string(c.Role) != *role) || (*lot != "" && !slices.Contains(c.Lots, *lot)) {
			continue
		}
		n++
		last := "jamais"
		if !c.LastLogin.IsZero() {
			last = fr.DateTime(c.LastLogin.In(s.Location()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Email, dash(c.Name()), dash(string(c.Role)),
			dash(strings.Join(c.Lots, ",")), dash(strings.Join(c.Mandates, ",")), stateLabel(c), last)
	}
	tw.Flush()
	fmt.Fprintf(os.Stderr, "%d identité(s)\n", n)
	return 0
}

// stateLabel is the identity's state for the agency: désactivée, invitée
// (active, the invitation not completed: no password chosen yet) or active.
func stateLabel(c kratos.Client) string {
	switch {
	case c.State != "active":
		return "désactivée"
	case !c.HasPassword && !c.Verified:
		return "invitée"
	}
	return "active"
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func cmdIdentityImport(action string, args []string) int {
	fs := newCommand("identities import", identitiesUsage)
	file := fs.String("csv", "", "the CSV file to import")
	dryRun := fs.Bool("dry-run", false, "say what would be done, change nothing, send nothing")
	if code, done := parse(fs.FlagSet, args); done {
		return code
	}
	if *file == "" {
		fmt.Fprintln(os.Stderr, "passerelle identities import: --csv FILE is required")
		return 2
	}
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities import:", err)
		return 1
	}
	rows, err := identities.ReadCSV(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "passerelle identities import: %s: %v\n", *file, err)
		return 1
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(rows)+6)*10*time.Second)
	defer cancel()
	s, closeDB, err := identityService(ctx, cfg, false)
	defer closeDB()
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle identities import:", err)
		return 1
	}
	counts := map[string]int{}
	done := 0
	progress := newProgress(len(rows))
	s.Import(ctx, rows, *dryRun, func(r identities.RowResult) {
		done++
		counts[r.Outcome]++
		progress.clear()
		line := fmt.Sprintf("ligne %d : %s : %s", r.Line, dash(r.Record.Email), r.Outcome)
		if r.Detail != "" {
			line += " : " + r.Detail
		}
		fmt.Println(line)
		progress.show(done)
	})
	progress.end()
	prefix := ""
	if *dryRun {
		prefix = "simulation (rien n'a été modifié) : "
	}
	fmt.Printf("%s%d ligne(s) : %d créée(s), %d déjà là, %d mise(s) à jour, %d refusée(s), %d en échec\n", prefix, len(rows),
		counts[identities.OutcomeCreated], counts[identities.OutcomeSame], counts[identities.OutcomeUpdated],
		counts[identities.OutcomeRefused], counts[identities.OutcomeFailed])
	if counts[identities.OutcomeRefused]+counts[identities.OutcomeFailed] > 0 {
		return 1
	}
	return 0
}

// progress draws "import : 12/240 lignes" on stderr: redrawn in place on a
// terminal, one line every tenth of the file otherwise (a log).
type progress struct {
	total, step int
	tty         bool
}

func newProgress(total int) *progress {
	fi, err := os.Stderr.Stat()
	return &progress{total: total, step: max(1, total/10), tty: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) bar(n int) string {
	const width = 20
	fill := 0
	if p.total > 0 {
		fill = n * width / p.total
	}
	return fmt.Sprintf("import [%s%s] %d/%d lignes", strings.Repeat("#", fill), strings.Repeat(".", width-fill), n, p.total)
}

func (p *progress) show(n int) {
	switch {
	case p.tty:
		fmt.Fprint(os.Stderr, "\r"+p.bar(n))
	case n%p.step == 0 || n == p.total:
		fmt.Fprintln(os.Stderr, p.bar(n))
	}
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}

func (p *progress) end() {
	if p.tty {
		fmt.Fprintln(os.Stderr)
	}
}
