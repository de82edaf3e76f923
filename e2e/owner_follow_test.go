package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// Owners follow the requests filed on their lots, or not, on the running
// binary: on a repair (a category shared with owners) filed by the tenant of
// the lot, the staff answer reaches the tenant and the following owner,
// whose mail says whose request on which lot; an owner of the lot who
// unticked "follow my lots" and an owner of another lot get nothing; a
// private note reaches no one.
func TestOwnersFollowTheRequestsOnTheirLots(t *testing.T) {
	t.Parallel() // no service stopped, its own addresses and deployment
	d := newDeployment(t)
	in := d.writeConfig("follow", map[string]string{"notifications.sweep_interval": "1s"})
	d.migrate(in)
	srv := d.serve(in)
	base := srv.in.baseURL
	rm := newStaff(t, d.st)

	lot := "E2E-F" + randomString(5, "0123456789")
	_, tenantMail, tenantToken := kratostest.NewClient(t, "tenant", []string{lot}, nil)
	tenant := &customer{t: t, token: tenantToken, lot: lot, email: tenantMail}
	_, followMail, _ := kratostest.NewClient(t, "owner", []string{lot}, []string{"M-" + lot})
	_, quietMail, quietToken := kratostest.NewClient(t, "owner", []string{lot}, []string{"M2-" + lot})
	_, otherMail, _ := kratostest.NewClient(t, "owner", []string{"E2E-ELSEWHERE"}, []string{"M3-" + lot})
	// The second owner unticks "follow my lots" (the checkbox absent from the form).
	req, _ := http.NewRequest(http.MethodPost, base+"/preferences", strings.NewReader("email_mode=immediate"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Session-Token", quietToken)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the quiet owner's preferences: %v %v", resp, err)
	}
	resp.Body.Close()

	var r apiRequest
	tenant.mustCall(base, http.MethodPost, "/api/v1/requests", map[string]string{"category": "travaux", "subject": "Chauffe-eau en panne",
		"body": "Plus d'eau chaude depuis ce matin.", "lot": lot, "location": "Salle de bains", "payer": "unknown", "urgency": "high"},
		&r, http.StatusCreated)
	issue := tenant.waitIssue(base, r.ID, syncBound)
	rm.addNote(issue, "Note privée : propriétaire à facturer.", true)
	rm.addNote(issue, "Un chauffagiste passe demain matin.", false)
	waitMails(t, tenantMail, pollInterval+60*time.Second, "the tenant's mails", map[string]int{"received": 1, "transmitted": 1, "answer": 1})
	waitMails(t, followMail, 30*time.Second, "the following owner's answer", map[string]int{"answer": 1})
	m := clientMails(t, followMail)["answer"][0]
	if !strings.Contains(m.subject, "Votre lot "+lot) || !strings.Contains(m.text, "sur votre lot « "+lot+" »") ||
		!strings.Contains(m.text, "chauffagiste passe demain") || !strings.Contains(m.text, base+"/demandes/"+r.ID) {
		t.Fatalf("the owner's mail does not say whose request on which lot: %q\n%s", m.subject, m.text)
	}
	time.Sleep(5 * time.Second) // several sweeps
	for who, addr := range map[string]string{"the owner who does not follow": quietMail, "an owner of another lot": otherMail} {
		if got := clientMails(t, addr); len(got) != 0 {
			t.Errorf("%s got mail: %s", who, describeClientMails(got))
		}
	}
	for _, addr := range []string{tenantMail, followMail} {
		for ev, list := range clientMails(t, addr) {
			for _, cm := range list {
				if strings.Contains(cm.text, "facturer") {
					t.Fatalf("the private note reached %s (%s)", addr, ev)
				}
			}
		}
	}
	t.Logf("counts: tenant 3 mails, following owner 1 (answer), quiet owner 0, other lot's owner 0, private note 0")
}
