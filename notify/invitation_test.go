package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderInvitation(t *testing.T) {
	tests := []struct {
		name string
		inv  Invitation
		want []string
		html []string
	}{
		{
			name: "with a name",
			inv: Invitation{Agency: "Agence Exemple", Name: "Camille Martin", Email: "camille@example.test",
				Link: "http://kratos/self-service/recovery?flow=abc&x=1", Code: "123456", Expires: "jeudi 5 décembre à 18 h",
				LoginURL: "http://espace/connexion"},
			want: []string{"Bonjour Camille Martin,", "http://kratos/self-service/recovery?flow=abc&x=1", "123456",
				"valables jusqu'au jeudi 5 décembre à 18 h", "camille@example.test", "http://espace/connexion"},
			html: []string{`href="http://kratos/self-service/recovery?flow=abc&amp;x=1"`, "123456"},
		},
		{
			name: "no name, markup escaped in HTML",
			inv:  Invitation{Agency: "A<b>", Email: "x@example.test", Link: "http://l", Code: "9"},
			want: []string{"Bonjour,\n", "A<b>"},
			html: []string{"A&lt;b&gt;"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := RenderInvitation(tc.inv)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Subject, "votre accès à l'espace client") || strings.Contains(r.Subject, "\n") {
				t.Errorf("subject %q", r.Subject)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, r.Text)
				}
			}
			for _, w := range tc.html {
				if !strings.Contains(r.HTML, w) {
					t.Errorf("html lacks %q:\n%s", w, r.HTML)
				}
			}
		})
	}
}

// LoadTemplates applies notifications.templates_dir to the invitation and
// staff alert mails, and refuses an override with which one of them no
// longer renders. A client-mail override in the same directory (using the
// shared functions) does not disturb these mails.
func TestLoadTemplates(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		subject string // of the invitation; "" when refused
	}{
		{"none", nil, "Agence : votre accès à l'espace client"},
		{"invitation subject redefined", map[string]string{"a.txt.tmpl": `{{define "invitation.subject"}}Bienvenue chez {{.Agency}}{{end}}`}, "Bienvenue chez Agence"},
		{"a client-mail override beside it", map[string]string{"event.txt.tmpl": `{{define "event.txt"}}{{join .Files ", "}}{{end}}`}, "Agence : votre accès à l'espace client"},
		{"unknown field", map[string]string{"a.txt.tmpl": `{{define "invitation.txt"}}{{.Nope}}{{end}}`}, ""},
		{"alert HTML broken", map[string]string{"a.html.tmpl": `{{define "deadline_warning.html"}}{{.Reference}{{end}}`}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			tpl, err := LoadTemplates(dir)
			if tc.subject == "" {
				if err == nil || !strings.Contains(err.Error(), "notifications.templates_dir") {
					t.Fatalf("error %v, want a refusal naming notifications.templates_dir", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := tpl.Invitation(Invitation{Agency: "Agence", Link: "http://l", Code: "1"})
			if err != nil || r.Subject != tc.subject || !strings.Contains(r.Text, "http://l") {
				t.Fatalf("subject %q text %q (%v), want subject %q", r.Subject, r.Text, err, tc.subject)
			}
			if _, err := tpl.DeadlineAlert(DeadlineAlert{Kind: KindEscalation, Reference: "D-1"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
