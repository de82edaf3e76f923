package notify

import (
	"strings"
	"testing"
)

func sampleAlert(kind string) DeadlineAlert {
	return DeadlineAlert{
		Kind: kind, Agency: "Passerelle", Reference: "D-2026-000042", Subject: "Fuite sous l'évier <urgent>",
		Category: "Réparation ou travaux", Role: "locataire", Urgency: "normale", Client: "Jean Dupont",
		IssueID: 42, IssueURL: "http://redmine.local/issues/42", Assignee: "Gestionnaires",
		Target: "la première réponse au client", Limit: "2 jours ouvrés", Rule: "deadlines.policies[1]",
		Started: "vendredi 20 novembre à 17 h", Due: "mardi 24 novembre à 17 h", Used: "75 %", Late: "3 h 30 ouvrées",
		Action: "répondre au client par une note publique dans Redmine",
	}
}

func TestRenderWarning(t *testing.T) {
	r, err := RenderDeadlineAlert(sampleAlert(KindWarning))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[D-2026-000042] Échéance proche : la première réponse au client avant le mardi 24 novembre à 17 h"; r.Subject != want {
		t.Errorf("subject = %q, want %q", r.Subject, want)
	}
	for _, want := range []string{
		"L'échéance de la demande D-2026-000042 approche : 75 % du délai est écoulé.",
		"Demande   : D-2026-000042 — Fuite sous l'évier <urgent>", // plain text: not escaped
		"Client    : Jean Dupont (locataire)",
		"Catégorie : Réparation ou travaux, urgence normale",
		"Redmine   : n° 42 — http://redmine.local/issues/42",
		"Assignée à : Gestionnaires",
		"Délai     : 2 jours ouvrés depuis le vendredi 20 novembre à 17 h (deadlines.policies[1])",
		"Pour arrêter le décompte : répondre au client par une note publique dans Redmine.",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, r.Text)
		}
	}
	if strings.Contains(r.Text, "dépassé") {
		t.Errorf("a warning does not say the deadline passed:\n%s", r.Text)
	}
	if !strings.Contains(r.HTML, "Fuite sous l&#39;évier &lt;urgent&gt;") || !strings.Contains(r.HTML, `<a href="http://redmine.local/issues/42">n° 42</a>`) {
		t.Errorf("HTML not escaped or link missing:\n%s", r.HTML)
	}
}

func TestRenderEscalation(t *testing.T) {
	a := sampleAlert(KindEscalation)
	a.IssueID, a.IssueURL, a.Assignee, a.Urgency = 0, "", "", ""
	r, err := RenderDeadlineAlert(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[D-2026-000042] EN RETARD : la première réponse au client attendue depuis le mardi 24 novembre à 17 h"; r.Subject != want {
		t.Errorf("subject = %q, want %q", r.Subject, want)
	}
	for _, want := range []string{
		"a dépassé son échéance de 3 h 30 ouvrées : la première réponse au client était attendue au plus tard le mardi 24 novembre à 17 h.",
		"Échéance  : mardi 24 novembre à 17 h (dépassée)",
		"Catégorie : Réparation ou travaux\n",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, r.Text)
		}
	}
	for _, absent := range []string{"Redmine   :", "Assignée à", "urgence"} {
		if strings.Contains(r.Text, absent) {
			t.Errorf("text has %q with no value:\n%s", absent, r.Text)
		}
	}
}

func TestRenderUnknownKind(t *testing.T) {
	if _, err := RenderDeadlineAlert(DeadlineAlert{Kind: "reminder"}); err == nil {
		t.Fatal("want an error")
	}
}
