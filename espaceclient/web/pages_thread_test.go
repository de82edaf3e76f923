package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// The author replies with a file and closes the request from its page; the
// dashboard then lists it under "Clôturés"; writing again reopens it (the
// stack's configuration: reopen).
func TestReplyCloseAndReopenThroughThePage(t *testing.T) {
	s := newSite(t)
	c := s.client(t, "tenant", []string{"A12"}, nil)
	id := c.file(repair("A12"), nil)

	status, h, body := c.form("/demandes/"+id+"/messages", map[string]string{"body": "Voici une photo de plus."},
		map[string][]byte{"evier.png": pngBytes})
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/demandes/"+id+"?ok=message#m-") {
		t.Fatalf("reply: %d %q %s", status, h.Get("Location"), body)
	}
	_, _, page := c.get(h.Get("Location"))
	mustContain(t, "the page after the reply", page, "Voici une photo de plus.", "evier.png", "Votre message a été envoyé")

	// An empty reply comes back with its error, nothing stored.
	status, _, body = c.form("/demandes/"+id+"/messages", map[string]string{"body": "  "}, nil)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("empty reply: %d", status)
	}
	mustContain(t, "the refused reply", body, `href="#body"`, `id="body-error"`)

	status, h, _ = c.do(http.MethodPost, "/demandes/"+id+"/cloture", nil, "")
	if status != http.StatusSeeOther {
		t.Fatalf("close: %d", status)
	}
	_, _, dash := c.get("/")
	mustContain(t, "the Clôturés column", between(dash, `id="col-closed"`, "</section>"), `href="/demandes/`+id+`"`)
	_, _, page = c.get("/demandes/" + id)
	mustContain(t, "the closed request", page, "votre message la rouvrira")
	mustNotContain(t, "the closed request", page, `id="close"`)

	status, _, _ = c.form("/demandes/"+id+"/messages", map[string]string{"body": "Finalement, ça fuit encore."}, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("reply on a closed request: %d", status)
	}
	_, _, dash = c.get("/")
	mustNotContain(t, "the Clôturés column after writing again", between(dash, `id="col-closed"`, "</section>"), id)
}

// Preferences: the choice is stored and shown again; a value that is not a
// choice is refused with its message.
func TestPreferencesSaved(t *testing.T) {
	s := newSite(t)
	owner := s.client(t, "owner", []string{"A12"}, []string{"M1"})
	_, _, page := owner.get("/preferences")
	mustContain(t, "the default preferences", page, `value="immediate" checked`, `id="follow_lots" name="follow_lots" value="1" checked`)
	status, h, _ := owner.do(http.MethodPost, "/preferences", strings.NewReader("email_mode=daily"), "application/x-www-form-urlencoded")
	if status != http.StatusSeeOther || h.Get("Location") != "/preferences?ok=1" {
		t.Fatalf("save: %d %q", status, h.Get("Location"))
	}
	_, _, page = owner.get("/preferences?ok=1")
	mustContain(t, "the saved preferences", page, `value="daily" checked`, "Vos préférences sont enregistrées")
	mustNotContain(t, "the saved preferences", page, `value="1" checked`)
	status, _, body := owner.do(http.MethodPost, "/preferences", strings.NewReader("email_mode=hourly"), "application/x-www-form-urlencoded")
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "hourly") {
		t.Fatalf("invalid choice: %d %s", status, body)
	}
}
