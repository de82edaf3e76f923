package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"passerelle/database"
	"passerelle/deadlines"
	"passerelle/espaceclient"
	"passerelle/internal/fr"
)

const reportSummary = `Reports for the agency's yearly quality synthesis.

  passerelle report sla --from DATE --to DATE [--csv]

For the first-answer deadlines that started between --from and --to (both days
included, agency time): by category and by role (tenant, owner), the share
answered in time and the median answer time, counted as the deadline counts it
(opening hours for business-clock policies) and in elapsed time.

  answered        a public staff note answered the request (or the client's follow-up)
  in time         answered within the time allowed
  late            answered late, or still unanswered past its due time
  share in time   in time / (answered + unanswered past due); deadlines still
                  running and not due yet, and requests closed before any
                  answer, are counted apart and not in the share
  --csv           RFC 4180 CSV (UTF-8, comma, header line) instead of tables`

func cmdReport(args []string) int {
	fs := newCommand("report", reportSummary)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: passerelle report sla --from DATE --to DATE [--csv] [options]\n\n%s\n\nOptions:\n", reportSummary)
		fs.PrintDefaults()
	}
	fromS := fs.String("from", "", "first day, YYYY-MM-DD (required)")
	toS := fs.String("to", "", "last day, included, YYYY-MM-DD (required)")
	asCSV := fs.Bool("csv", false, "write CSV instead of tables")
	atS := fs.String("at", "", "count as of this instant instead of now (YYYY-MM-DD HH:MM, agency time)")
	pos, code, done := parseInterleaved(fs.FlagSet, args)
	if done {
		return code
	}
	if len(pos) != 1 || pos[0] != "sla" {
		fmt.Fprintln(os.Stderr, "passerelle report: expected the report name: sla")
		fs.Usage()
		return 2
	}
	if *fromS == "" || *toS == "" {
		fmt.Fprintln(os.Stderr, "passerelle report sla: --from and --to are required, such as --from 2026-01-01 --to 2026-12-31")
		return 2
	}
	cfg, ok := fs.config()
	if !ok {
		return 1
	}
	loc, err := cfg.Calendar.Location()
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle report:", err)
		return 1
	}
	from, err1 := time.ParseInLocation("2006-01-02", *fromS, loc)
	last, err2 := time.ParseInLocation("2006-01-02", *toS, loc)
	if err1 != nil || err2 != nil || last.Before(from) {
		fmt.Fprintln(os.Stderr, "passerelle report sla: --from and --to are days YYYY-MM-DD, --from not after --to")
		return 2
	}
	to := last.AddDate(0, 0, 1)
	now := time.Now()
	if *atS != "" {
		if now, err = parseAgencyTime(*atS, loc); err != nil {
			fmt.Fprintln(os.Stderr, "passerelle report sla: --at:", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool, err := database.Open(ctx, cfg.Database.URL.Reveal(), 2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle report:", err)
		return 1
	}
	defer pool.Close()
	reqs, err := espaceclient.NewStore(pool).RequestHistoriesActive(ctx, from, to)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle report:", err)
		return 1
	}
	rep, err := deadlines.SLAReportOf(cfg, reqs, from, to, now)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle report:", err)
		return 1
	}
	if *asCSV {
		if err := writeSLACSV(os.Stdout, rep); err != nil {
			fmt.Fprintln(os.Stderr, "passerelle report:", err)
			return 1
		}
		return 0
	}
	writeSLATables(os.Stdout, rep, from, last, now, loc)
	return 0
}

func shareFR(s float64) string {
	if s < 0 {
		return "—"
	}
	return strings.Replace(strconv.FormatFloat(s*100, 'f', 1, 64), ".", ",", 1) + " %"
}

func medianFR(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	return frDuration(d)
}

func writeSLATables(w io.Writer, rep deadlines.SLAReport, from, last, now time.Time, loc *time.Location) {
	fmt.Fprintf(w, "Délais de première réponse — du %s au %s (inclus), état au %s\n",
		fr.Date(from), fr.Date(last), frTime(now, loc))
	table := func(title, first string, lines []deadlines.SLALine) {
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tDÉLAIS\tÀ TEMPS\tEN RETARD\tSANS RÉPONSE (DÉPASSÉ)\tEN COURS\tCLÔTURÉES SANS RÉPONSE\tPART À TEMPS\tMÉDIANE (OUVRÉ)\tMÉDIANE (ÉCOULÉ)\t\n", first)
		for _, l := range lines {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", l.Label, l.Deadlines, l.InTime, l.AnsweredLate,
				l.UnansweredDue, l.Pending, l.ClosedNoReply, shareFR(l.Share), medianFR(l.MedianCounted), medianFR(l.MedianElapsed))
		}
		tw.Flush()
	}
	if len(rep.ByCategory) == 0 {
		fmt.Fprintln(w, "\nAucune demande sur la période.")
	} else {
		table("Par catégorie", "CATÉGORIE", rep.ByCategory)
	}
	table("Par rôle", "RÔLE", rep.ByRole)
	table("Ensemble", "", []deadlines.SLALine{rep.Total})
}

func writeSLACSV(w io.Writer, rep deadlines.SLAReport) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"regroupement", "cle", "libelle", "delais", "a_temps", "en_retard", "sans_reponse_depasse", "en_cours",
		"clotures_sans_reponse", "part_a_temps", "mediane_ouvree_minutes", "mediane_ecoulee_minutes"})
	num := func(f float64) string {
		if f < 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'f', 4, 64)
	}
	mins := func(d time.Duration) string {
		if d < 0 {
			return ""
		}
		return strconv.FormatInt(int64(d.Round(time.Minute)/time.Minute), 10)
	}
	all := append(append(slices.Clone(rep.ByCategory), rep.ByRole...), rep.Total)
	for _, l := range all {
		_ = cw.Write([]string{l.Group, l.Key, l.Label, strconv.Itoa(l.Deadlines), strconv.Itoa(l.InTime), strconv.Itoa(l.AnsweredLate),
			strconv.Itoa(l.UnansweredDue), strconv.Itoa(l.Pending), strconv.Itoa(l.ClosedNoReply), num(l.Share),
			mins(l.MedianCounted), mins(l.MedianElapsed)})
	}
	cw.Flush()
	return cw.Error()
}
