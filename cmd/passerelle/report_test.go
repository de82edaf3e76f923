package main

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/deadlines"
	"passerelle/deadlines/deadlinestest"
	"passerelle/internal/testenv"
)

func TestSLAReportPrintsHistories(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	reqs, from, to, now := deadlinestest.November(t)

	rep, err := deadlines.SLAReportOf(cfg, reqs, from, to, now)
	if err != nil {
		t.Fatal(err)
	}

	// The counts are deadlines' (TestSLAReportAggregatesHistories); here,
	// how they are printed.
	var buf bytes.Buffer
	if err := writeSLACSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := rows[len(rows)-1]
	if len(rows) != 1+3+2+1 || strings.Join(last, "|") != "total||Total|6|2|1|1|1|1|0.5000|240|3900" {
		t.Errorf("csv:\n%v", rows)
	}
	buf.Reset()
	writeSLATables(&buf, rep, from, to.AddDate(0, 0, -1), now, from.Location())
	out := buf.String()
	for _, want := range []string{"du 01/11/2026 au 30/11/2026", "Par catégorie", "Question comptable", "locataires", "33,3 %", "PART À TEMPS", "4 h 00", "2 j 17 h 00"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
}

func TestExplanationListsIntervals(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	r := deadlinestest.Request("1", "autre", config.RoleTenant, deadlinestest.Paris(t, "2026-11-20 17:00"))
	rd, err := deadlines.ComputeRequestDeadlines(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sent := deadlinestest.Paris(t, "2026-11-24 12:31")
	writeExplanation(&buf, cfg, r, rd, []deadlines.AlertRecord{{DeadlineID: "first_answer@req:1", Kind: deadlines.AlertWarning, State: deadlines.AlertDone,
		MailState: deadlines.MailSent, MailTo: []string{"gestion@agence.example"}, MailSentAt: &sent, ClaimedAt: sent}}, deadlinestest.Paris(t, "2026-11-25 10:00"))
	out := buf.String()
	for _, want := range []string{
		"Demande D-2026-1 — Objet 1",
		"Affiché au client : Réponse attendue avant le mardi 24 novembre à 17 h",
		"(échéance enregistrée : aucune — différente",
		"1. La première réponse au client — EN RETARD (en cours)",
		"deadlines.policies[1] : 2 jours ouvrés",
		"ven. 20/11/2026 17:00  ven. 20/11/2026 18:00  oui     1 h 00",
		"ven. 20/11/2026 18:00  lun. 23/11/2026 09:00  non     2 j 15 h 00  fermé : samedi, dimanche",
		"heures ouvrées — échéance dépassée",
		"Alerte : avertissement (décidé le mar. 24/11/2026 12:31) : courriel envoyé le mar. 24/11/2026 12:31 à gestion@agence.example",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := newFlags("x", "")
	c := fs.String("config", "", "")
	csvFlag := fs.Bool("csv", false, "")
	pos, _, done := parseInterleaved(fs, []string{"sla", "--config", "f.yaml", "extra", "--csv"})
	if done || strings.Join(pos, ",") != "sla,extra" || *c != "f.yaml" || !*csvFlag {
		t.Errorf("pos=%v config=%q csv=%v", pos, *c, *csvFlag)
	}
}
