package notify

import (
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
