package espaceclient

import "testing"

func TestRenderText(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "Bonjour", "Bonjour"},
		{"line breaks", "a\nb\r\nc", "a<br>\nb<br>\nc"},
		{"html is escaped", `<script>alert("x")</script><b>gras</b>`, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;gras&lt;/b&gt;`},
		{"bare url", "Voir https://agence.example/doc?a=1&b=2.", `Voir <a href="https://agence.example/doc?a=1&amp;b=2" rel="nofollow noopener noreferrer">https://agence.example/doc?a=1&amp;b=2</a>.`},
		{"textile link", `Le "devis":https://agence.example/d.pdf est prêt`, `Le <a href="https://agence.example/d.pdf" rel="nofollow noopener noreferrer">devis</a> est prêt`},
		{"markdown link", `Le [devis](https://agence.example/d.pdf) est prêt`, `Le <a href="https://agence.example/d.pdf" rel="nofollow noopener noreferrer">devis</a> est prêt`},
		{"javascript url stays text", `[clic](javascript:alert(1))`, `[clic](javascript:alert(1))`},
		{"quote in url cannot break out", `https://x.example/"onmouseover="alert(1)`, `<a href="https://x.example/" rel="nofollow noopener noreferrer">https://x.example/</a>&#34;onmouseover=&#34;alert(1)`},
		{"link text escaped", `[<img src=x>](https://x.example)`, `<a href="https://x.example" rel="nofollow noopener noreferrer">&lt;img src=x&gt;</a>`},
		{"textile bold kept as text", "*Important* : rappel", "*Important* : rappel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := RenderText(c.in); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
