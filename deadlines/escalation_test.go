package deadlines

import (
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
)

func TestEscalationNoteSaysWhatAndSinceWhen(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	fri := paris(t, "2026-11-20 17:00")
	req := espaceclient.Request{ID: "r1", Reference: "D-2026-000042", AuthorName: "Jean Dupont", Category: "autre",
		AuthorRole: config.RoleTenant, CreatedAt: fri,
		Messages: []espaceclient.Message{msg("m1", espaceclient.AuthorClient, espaceclient.KindMessage, fri)}}
	rd, _ := ComputeRequestDeadlines(cfg, req)
	d, _ := rd.NextAnswer()
	note := EscalationNote(rd.Calendar, req, d, paris(t, "2026-11-25 11:30"))
	for _, want := range []string{
		"Échéance dépassée : la première réponse au client",
		"D-2026-000042 (Jean Dupont, locataire)",
		"depuis le vendredi 20 novembre à 17 h",
		"Délai : 2 jours ouvrés (deadlines.policies[1])",
		"En retard depuis le mardi 24 novembre à 17 h (dépassement constaté : 3 h 30 ouvrées)",
		"note publique",
		EscalationMarker("first_answer@req:r1"),
	} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q:\n%s", want, note)
		}
	}
}
