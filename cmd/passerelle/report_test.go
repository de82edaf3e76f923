package main

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/deadlines"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
)

func paris(t *testing.T, s string) time.Time {
	t.Helper()
	loc, _ := time.LoadLocation("Europe/Paris")
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func message(id, author string, at time.Time) espaceclient.Message {
	return espaceclient.Message{ID: id, AuthorKind: author, Kind: espaceclient.KindMessage, CreatedAt: at}
}

// request files a request at filed, answered by staff at each answers time.
func request(id, category string, role config.Role, filed time.Time, answers ...time.Time) espaceclient.Request {
	r := espaceclient.Request{ID: id, Reference: "D-2026-" + id, Category: category, AuthorRole: role, CreatedAt: filed,
		AuthorName: "Client " + id, Subject: "Objet " + id, Status: config.StatusInProgress,
		Messages: []espaceclient.Message{message(id+"-0", espaceclient.AuthorClient, filed)}}
	for i, a := range answers {
		r.Messages = append(r.Messages, message(id+"-s"+string(rune('a'+i)), espaceclient.AuthorStaff, a))
	}
	return r
}

func TestSLAReportPrintsHistories(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	from, to := paris(t, "2026-11-01 00:00"), paris(t, "2026-12-01 00:00")
	now := paris(t, "2026-11-30 12:00")
	reqs := []espaceclient.Request{
		// Tenants, 2 working days. Filed Monday 10:00, due Wednesday 10:00.
		request("1", "autre", config.RoleTenant, paris(t, "2026-11-23 10:00"), paris(t, "2026-11-23 14:00")), // in time: 4 h
		request("2", "autre", config.RoleTenant, paris(t, "2026-11-16 10:00"), paris(t, "2026-11-19 10:00")), // late: 27 h counted
		request("3", "bail", config.RoleTenant, paris(t, "2026-11-02 10:00")),                                // no answer, past due
		request("4", "bail", config.RoleTenant, paris(t, "2026-11-30 10:00")),                                // running, not due yet
		// Owners, 1 working day.
		request("5", "comptabilite", config.RoleOwner, paris(t, "2026-11-20 17:00"), paris(t, "2026-11-23 10:00")), // in time: 2 h counted, 65 h elapsed
		// Before the period: not counted.
		request("6", "autre", config.RoleOwner, paris(t, "2026-10-30 10:00"), paris(t, "2026-10-30 11:00")),
	}
	closed := request("7", "autre", config.RoleOwner, paris(t, "2026-11-24 10:00"))
	cm := message("7-c", espaceclient.AuthorSystem, paris(t, "2026-11-24 11:00"))
	cm.Kind = espaceclient.KindClosed
	closed.Messages = append(closed.Messages, cm)
	reqs = append(reqs, closed)

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
	r := request("1", "autre", config.RoleTenant, paris(t, "2026-11-20 17:00"))
	rd, err := deadlines.ComputeRequestDeadlines(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sent := paris(t, "2026-11-24 12:31")
	writeExplanation(&buf, cfg, r, rd, []deadlines.AlertRecord{{DeadlineID: "first_answer@req:1", Kind: deadlines.AlertWarning, State: deadlines.AlertDone,
		MailState: deadlines.MailSent, MailTo: []string{"gestion@agence.example"}, MailSentAt: &sent, ClaimedAt: sent}}, paris(t, "2026-11-25 10:00"))
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
