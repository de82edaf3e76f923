package config

import (
	"slices"
	"testing"
)

func TestAlertRecipientProblems(t *testing.T) {
	runProblemCases(t, []problemCase{
		{"group and user", "deadlines:\n  recipients:\n    - {group: 5, user: 6, emails: [a@agence.fr]}\n",
			"group: 5", "deadlines.recipients[0]", "expected exactly one of group or user"},
		{"neither group nor user", "deadlines:\n  recipients:\n    - name: Gestionnaires\n      emails: [a@agence.fr]\n",
			"name: Gestionnaires", "deadlines.recipients[0]", "expected exactly one of group or user"},
		{"no emails", "deadlines:\n  recipients:\n    - {group: 5, name: Gestionnaires}\n",
			"group: 5", "deadlines.recipients[0].emails", "required: expected the e-mail addresses"},
		{"bad email", "deadlines:\n  recipients:\n    - group: 5\n      emails: [gestion.agence.fr]\n",
			"gestion.agence.fr", "deadlines.recipients[0].emails[0]", `"gestion.agence.fr" is not an e-mail address`},
		{"same id twice", "deadlines:\n  recipients:\n    - {group: 5, emails: [a@agence.fr]}\n    - {group: 5, emails: [b@agence.fr]}\n",
			"b@agence.fr", "deadlines.recipients[1]", "Redmine id 5 is already in deadlines.recipients[0]"},
		{"bad default", "deadlines:\n  default_recipients: [\"Accueil <accueil@agence.fr>\"]\n",
			"default_recipients", "deadlines.default_recipients[0]", "is not an e-mail address"},
		{"bad cc", "deadlines:\n  escalation:\n    cc: [direction]\n",
			"cc:", "deadlines.escalation.cc[0]", `"direction" is not an e-mail address`},
		{"unknown escalation key", "deadlines:\n  escalation:\n    raise_priority: High\n",
			"raise_priority", "deadlines.escalation.raise_priority", `unknown key "raise_priority"; expected one of: private_note, raise_priority_to, cc`},
	})
}

func TestAlertRecipientsParsed(t *testing.T) {
	doc, _ := withBlock(t, `deadlines:
  recipients:
    - {group: 5, name: Gestionnaires, emails: [gestion@agence.fr, marie@agence.fr]}
    - {user: 12, name: Paul, emails: [paul@agence.fr]}
  default_recipients: [accueil@agence.fr]
  escalation:
    private_note: false
    raise_priority_to: High
    cc: [direction@agence.fr]
`)
	cfg, ps := parseDoc(t, doc)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	d := cfg.Deadlines
	if to, ok := d.RecipientsOf(5); !ok || !slices.Equal(to, []string{"gestion@agence.fr", "marie@agence.fr"}) {
		t.Errorf("group 5 → %v %v", to, ok)
	}
	if to, ok := d.RecipientsOf(12); !ok || !slices.Equal(to, []string{"paul@agence.fr"}) {
		t.Errorf("user 12 → %v %v", to, ok)
	}
	if _, ok := d.RecipientsOf(7); ok {
		t.Error("id 7 is not configured")
	}
	if _, ok := d.RecipientsOf(0); ok {
		t.Error("nobody (0) must not match")
	}
	if d.Escalation.WritesNote() || d.Escalation.RaisePriorityTo != "High" || !slices.Equal(d.Escalation.Cc, []string{"direction@agence.fr"}) {
		t.Errorf("escalation = %+v", d.Escalation)
	}
	if !(Escalation{}).WritesNote() {
		t.Error("a note is written by default")
	}
}
