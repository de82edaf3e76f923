package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"passerelle/config"
	"passerelle/database"
	"passerelle/deadlines"
	"passerelle/deadlines/sla"
	"passerelle/espaceclient"
	"passerelle/internal/fr"
)

const explainSummary = `Print how a request's response deadlines were computed: its history, then for each
deadline the rule, the time allowed, its due time and warning time, and the time counted
interval by interval (opening hours counted; nights, weekends, holidays and the time spent
waiting on the client not counted), with the warnings and escalations sent.
REF is the customer-space reference, such as D-2026-000123.`

func cmdExplain(args []string) int {
	fs := newCommand("explain", explainSummary)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: passerelle explain REF [options]\n\n%s\n\nOptions:\n", explainSummary)
		fs.PrintDefaults()
	}
	atFlag := fs.String("at", "", "explain as of this instant, agency time: YYYY-MM-DD HH:MM (default: now)")
	pos, code, done := parseInterleaved(fs.FlagSet, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "passerelle explain: expected one request reference, such as D-2026-000123")
		fs.Usage()
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	loc, err := cfg.Calendar.Location()
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle explain:", err)
		return 1
	}
	now := time.Now()
	if *atFlag != "" {
		if now, err = parseAgencyTime(*atFlag, loc); err != nil {
			fmt.Fprintln(os.Stderr, "passerelle explain: --at:", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle explain:", err)
		return 1
	}
	defer pool.Close()
	store := espaceclient.NewStore(pool)
	ref := strings.ToUpper(strings.TrimSpace(pos[0]))
	req, err := store.RequestByReference(ctx, ref)
	if errors.Is(err, espaceclient.ErrNotFound) {
		fmt.Fprintf(os.Stderr, "passerelle explain: aucune demande %s (expected a reference such as D-2026-000123)\n", ref)
		return 1
	}
	if err == nil {
		req, err = store.RequestHistory(ctx, req.ID)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle explain:", err)
		return 1
	}
	rd, err := deadlines.ComputeRequestDeadlines(cfg, req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle explain:", err)
		return 1
	}
	alerts, err := deadlines.DeadlineAlerts(ctx, pool, req.ID)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle explain: (alertes non lues)", err)
	}
	writeExplanation(os.Stdout, cfg, req, rd, alerts, now)
	return 0
}

// parseInterleaved parses flags placed before, between or after positional
// arguments ("explain REF --config F"), which flag.Parse alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, true
			}
			return nil, 2, true
		}
		if fs.NArg() == 0 {
			return pos, 0, false
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseAgencyTime reads "2026-11-24 10:00" (or a date alone, at midnight) in
// the agency's zone, or an RFC 3339 instant.
func parseAgencyTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: expected YYYY-MM-DD HH:MM or YYYY-MM-DD", s)
}

// frTime writes an instant in the agency's zone: "lun. 23/11/2026 10:12".
func frTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return fr.ShortDateTime(t)
	}
	return fr.ShortDateTime(t.In(loc))
}

// frDuration writes a duration: "7 h 48", "2 j 15 h 00", "45 min".
func frDuration(d time.Duration) string { return fr.DaysHoursMinutes(d) }

func stateFR(d sla.Deadline, now time.Time) string {
	switch d.State {
	case sla.Running:
		if d.Overdue(now) {
			return "EN RETARD (en cours)"
		}
		return "en cours"
	case sla.Paused:
		if !d.Due.IsZero() && !now.Before(d.Due) {
			return "en pause, en attente du client (échéance déjà dépassée)"
		}
		return "en pause, en attente du client"
	case sla.Met:
		if d.InTime() {
			return "tenu"
		}
		return "atteint en retard"
	case sla.Stopped:
		return "arrêté (demande clôturée)"
	}
	return string(d.State)
}

func eventFR(e sla.Event) string {
	switch e.Kind {
	case sla.Created:
		return "dépôt de la demande"
	case sla.ClientMessage:
		return "message du client"
	case sla.StaffPublicNote:
		return "réponse publique de l'agence"
	case sla.StatusChange:
		return "statut : " + espaceclient.StatusLabel(e.Status)
	}
	return string(e.Kind)
}

func alertFR(a deadlines.AlertRecord, loc *time.Location) string {
	kind := "avertissement"
	if a.Kind == deadlines.AlertEscalation {
		kind = "escalade"
	}
	var parts []string
	switch a.State {
	case deadlines.AlertSkipped:
		return kind + " : non envoyé (échéance déjà dépassée quand le veilleur l'a vue)"
	case deadlines.AlertCancelled:
		return kind + " : annulé (délai tenu ou arrêté avant l'envoi)"
	case deadlines.AlertPending:
		parts = append(parts, "en cours d'envoi")
	}
	switch a.MailState {
	case deadlines.MailSent:
		parts = append(parts, fmt.Sprintf("courriel envoyé le %s à %s", frTime(*a.MailSentAt, loc), strings.Join(a.MailTo, ", ")))
	case deadlines.MailNone:
		parts = append(parts, "aucun destinataire connu (deadlines.recipients)")
	case deadlines.MailDisabled:
		parts = append(parts, "courriel désactivé (smtp.addr vide)")
	case deadlines.MailFailed:
		parts = append(parts, "courriel refusé par le serveur")
	}
	if a.Kind == deadlines.AlertEscalation {
		switch a.NoteState {
		case deadlines.NoteWritten:
			parts = append(parts, fmt.Sprintf("note privée Redmine (journal %d)", *a.NoteJournalID))
		case deadlines.NoteRefused:
			parts = append(parts, "note privée NON écrite : l'utilisateur de synchronisation n'a pas la permission set_notes_private")
		}
	}
	if a.LastError != "" && a.State == deadlines.AlertPending {
		parts = append(parts, "dernière erreur : "+a.LastError)
	}
	return fmt.Sprintf("%s (décidé le %s) : %s", kind, frTime(a.ClaimedAt, loc), strings.Join(parts, " ; "))
}

// writeExplanation prints a request's deadlines, French first.
func writeExplanation(w io.Writer, cfg *config.Config, req espaceclient.Request, rd deadlines.RequestDeadlines, alerts []deadlines.AlertRecord, now time.Time) {
	loc := rd.Calendar.Location()
	catLabel := req.Category
	if cat, ok := cfg.Category(req.Category); ok {
		catLabel = cat.Label + " (" + req.Category + ")"
	}
	fmt.Fprintf(w, "Demande %s — %s\n", req.Reference, req.Subject)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  Catégorie\t%s\n", catLabel)
	fmt.Fprintf(tw, "  Auteur\t%s, %s\n", req.AuthorName, espaceclient.RoleLabel(req.AuthorRole))
	if req.Urgency != "" {
		fmt.Fprintf(tw, "  Urgence\t%s\n", strings.ToLower(espaceclient.UrgencyLabel(req.Urgency)))
	}
	fmt.Fprintf(tw, "  Statut\t%s\n", espaceclient.StatusLabel(req.Status))
	if req.RedmineIssueID != nil {
		fmt.Fprintf(tw, "  Redmine\tn° %d\n", *req.RedmineIssueID)
	}
	fmt.Fprintf(tw, "  Calendrier\t%s\n", loc)
	fmt.Fprintf(tw, "  Calculé au\t%s\n", frTime(now, loc))
	tw.Flush()

	fmt.Fprintln(w)
	due := rd.DueAt()
	if due != nil {
		fmt.Fprintf(w, "Affiché au client : %s\n", rd.DueLabel(*due))
	} else {
		fmt.Fprintln(w, "Affiché au client : aucune réponse attendue de l'agence pour l'instant")
	}
	switch {
	case due == nil && req.DueAt == nil:
	case due != nil && req.DueAt != nil && due.Equal(*req.DueAt):
	default:
		stored := "aucune"
		if req.DueAt != nil {
			stored = frTime(*req.DueAt, loc)
		}
		fmt.Fprintf(w, "(échéance enregistrée : %s — différente, le veilleur la recalculera dans la minute)\n", stored)
	}

	fmt.Fprintln(w, "\nHistorique")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  QUAND\tÉVÉNEMENT\tRÉF.")
	for _, e := range rd.Events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", frTime(e.At, loc), eventFR(e), e.ID)
	}
	tw.Flush()

	if len(rd.Deadlines) == 0 {
		fmt.Fprintln(w, "\nAucun délai : aucune règle de deadlines.policies ne s'applique à cette demande.")
	}
	byID := map[string][]deadlines.AlertRecord{}
	for _, a := range alerts {
		byID[a.DeadlineID] = append(byID[a.DeadlineID], a)
	}
	for i, d := range rd.Deadlines {
		fmt.Fprintf(w, "\n%d. %s — %s\n", i+1, upperFirst(deadlines.TargetLabel(d.Target)), stateFR(d, now))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "   Identifiant\t%s\n", d.ID)
		fmt.Fprintf(tw, "   Règle\t%s : %s\n", d.Limit.Rule, d.Limit.Within)
		fmt.Fprintf(tw, "   Départ\t%s\n", frTime(d.Start, loc))
		if !d.Due.IsZero() {
			fmt.Fprintf(tw, "   Échéance\t%s (%s)\n", frTime(d.Due, loc), rd.Calendar.FormatDue(d.Due))
		} else {
			fmt.Fprintf(tw, "   Échéance\trepoussée tant que la demande attend le client\n")
		}
		if !d.WarnAt.IsZero() {
			fmt.Fprintf(tw, "   Avertissement\t%s (%d %% du délai)\n", frTime(d.WarnAt, loc), int(d.WarnShare*100+0.5))
		}
		if !d.End.IsZero() {
			fmt.Fprintf(tw, "   Fin\t%s (%s)\n", frTime(d.End, loc), d.EndedBy)
		}
		fmt.Fprintf(tw, "   Temps accordé\t%s\n", frDuration(d.Allowed))
		fmt.Fprintf(tw, "   Temps compté\t%s (%d %%)\n", frDuration(time.Duration(d.Progress(now)*float64(d.Allowed))), int(d.Progress(now)*100+0.5))
		tw.Flush()
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   DU\tAU\tCOMPTÉ\tDURÉE\tPOURQUOI")
		for _, iv := range d.Explain(now) {
			counted := "non"
			if iv.Counted {
				counted = "oui"
			}
			fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", frTime(iv.From, loc), frTime(iv.To, loc), counted, frDuration(iv.To.Sub(iv.From)), iv.Why)
		}
		tw.Flush()
		for _, a := range byID[d.ID] {
			fmt.Fprintf(w, "   Alerte : %s\n", alertFR(a, loc))
		}
	}
}

func upperFirst(s string) string {
	for i, r := range s {
		return strings.ToUpper(string(r)) + s[i+len(string(r)):]
	}
	return s
}
