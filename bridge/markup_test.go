package bridge

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/deadlines"
	"passerelle/espaceclient"
	"passerelle/redmine"
)

// A model of what Redmine 5.0.4's Textile pipeline looks at, enough to check
// the converters' output without a Redmine: the tags RedCloth3 treats as
// verbatim (OFFTAG_MATCH), the macros caught before formatting (MACROS_RE)
// and the mentions notified outside "<pre>…</pre>" (Mentionable).
var (
	redclothOfftag = regexp.MustCompile(`(?i)</?(code|pre|kbd|notextile)\b`)
	redmineMacro   = regexp.MustCompile(`(?s)(!)?\{\{\w+(\([^\n\r]*?\))?([\n\r].*?[\n\r])?\}\}`)
	mentionPre     = regexp.MustCompile(`(?s)<pre>(.*?)</pre>`)
	redmineMention = regexp.MustCompile(`(?:^|\W)@[A-Za-z0-9_\-@.]+`)
)

// splitVerbatim splits Textile text into what lies outside <pre> blocks and
// the blocks' contents, failing if the offtags are not exactly Passerelle's
// own "<pre>" and "</pre>" lines, in pairs.
func splitVerbatim(t *testing.T, text string) (outside string, blocks []string) {
	t.Helper()
	locs := redclothOfftag.FindAllStringIndex(text, -1)
	if len(locs)%2 != 0 {
		t.Fatalf("%d verbatim tags, want pairs:\n%s", len(locs), text)
	}
	var out strings.Builder
	prev := 0
	for i := 0; i < len(locs); i += 2 {
		open, cl := locs[i], locs[i+1]
		if !strings.HasPrefix(text[open[0]:], "<pre>\n") || (open[0] > 0 && text[open[0]-1] != '\n') {
			t.Fatalf("verbatim tag at %d is not Passerelle's <pre> line: %q", open[0], text[open[0]:min(len(text), open[0]+20)])
		}
		if !strings.HasPrefix(text[cl[0]:], "</pre>") || text[cl[0]-1] != '\n' {
			t.Fatalf("verbatim tag at %d is not Passerelle's </pre> line: %q", cl[0], text[cl[0]:min(len(text), cl[0]+20)])
		}
		out.WriteString(text[prev:open[0]])
		blocks = append(blocks, text[open[1]+2:cl[0]]) // after "<pre>\n"
		prev = cl[0] + len("</pre>")
	}
	out.WriteString(text[prev:])
	return out.String(), blocks
}

// hostileMarkup are client strings that Redmine would format as markup,
// links, mentions or macros if they were not verbatim.
var hostileMarkup = []struct{ name, text string }{
	{"external image", "!http://evil.example/x.png!"},
	{"image with link", `!http://evil.example/x.png!:http://evil.example/`},
	{"textile link", `"phish":http://evil.example/phish`},
	{"auto link", "http://evil.example/auto www.evil.example"},
	{"e-mail link", "bob@evil.example"},
	{"forged heading", "h2. Note interne de l'agence"},
	{"forged bold agency text", "*Fin du message client.*"},
	{"raw html", `<script>alert(1)</script><img src="http://evil.example/i.png">`},
	{"notextile", "==<b>x</b>== <notextile><b>y</b></notextile>"},
	{"macro", "{{collapse(voir)\ncaché\n}} {{toc}} {{include(Wiki)}}"},
	{"macro opened, closed by later text", "{{collapse\n"},
	{"wiki link", "[[Wiki]] [[gestion-locative:Page|ici]]"},
	{"mention", "@admin @gestionnaire"},
	{"issue link", "#1 #123 ##1"},
	{"revision and commit", "r1 commit:abc123 source:foo/bar"},
	{"attachment link", "attachment:x.png user#1 document#1"},
	{"closing the block", "</pre>\n!http://evil.example/after.png!\n<pre>"},
	{"closing in capitals", "</PRE> <Pre> </Code> <kbd>"},
	{"nested code", "<pre><code class=\"ruby\">x</code></pre>"},
	{"fenced code", "```\n<b>x</b>\n```\n~~~"},
	{"list and table", "* item\n# numéro\n|a|b|\n> cité\nbq. cité"},
	{"carriage returns", "ligne 1\r\n</pre>\r\n!http://evil.example/cr.png!"},
	{"forged message marker", "_Réf. message espace client : 00000000-0000-4000-8000-000000000000_"},
	{"forged request marker", "_Identifiant interne espace client : 00000000-0000-4000-8000-000000000000_"},
	{"forged escalation marker", "_Réf. alerte Passerelle : first_answer@req:00000000-0000-4000-8000-000000000000_"},
}

// hostileFragments are the markup-bearing pieces of hostileMarkup; none may
// stand outside a verbatim block as written.
var hostileFragments = []string{"http://", "www.", "!http", `"phish":`, "bob@", "h2.", "*Fin", "<script", "<img", "==", "{{", "[[", "@admin", "#1", "r1", "commit:", "source:", "attachment:", "user#", "</pre>", "```", "* item", "bq.", "00000000-0000-4000"}

func TestClientTextIsVerbatimInRedmine(t *testing.T) {
	for _, c := range hostileMarkup {
		t.Run(c.name, func(t *testing.T) {
			req := espaceclient.Request{ID: "11111111-1111-4111-8111-111111111111", Reference: "D-2026-000042",
				AuthorName: "Jeanne " + c.text, AuthorEmail: "jeanne@example.test", AuthorRole: config.RoleTenant,
				Location: "Cuisine " + c.text, Lot: "LOT-12"}
			body := "Bonjour,\n" + c.text + "\nMerci. Éléonore à l'étage, ça fuit « beaucoup »."
			msg := espaceclient.Message{ID: "22222222-2222-4222-8222-222222222222", AuthorName: req.AuthorName, Body: body}
			for _, out := range []struct{ kind, text string }{
				{"description", IssueDescription(req, msg, config.Category{Label: "Autre"}, "", nil)},
				{"note", ClientNote(req, msg)},
				{"close note", CloseNote(req, msg)},
			} {
				outside, blocks := splitVerbatim(t, out.text)
				// Nothing of the client's is formatted: no fragment of the hostile
				// text (nor the client's framing) outside the verbatim blocks, once
				// the inline name is decoded the way a browser shows it.
				for _, frag := range hostileFragments {
					if strings.Contains(c.text, frag) && strings.Contains(outside, frag) {
						t.Errorf("%s: %q outside the verbatim blocks:\n%s", out.kind, frag, outside)
					}
				}
				if strings.ContainsAny(outside, "<>") {
					t.Errorf("%s: raw angle brackets outside the blocks:\n%s", out.kind, outside)
				}
				// The inline name is shown, characters as references.
				if out.kind != "description" && !strings.Contains(html.UnescapeString(outside), "Nom déclaré par le client : "+oneLine(req.AuthorName)) {
					t.Errorf("%s: the declared name is not shown as written:\n%s", out.kind, outside)
				}
				// No macro is caught anywhere (one could span blocks and Passerelle's text).
				if m := redmineMacro.FindString(out.text); m != "" {
					t.Errorf("%s: Redmine would catch the macro %q", out.kind, m)
				}
				// No mention is notified (Redmine ignores only exact <pre>…</pre>).
				if m := redmineMention.FindString(mentionPre.ReplaceAllString(out.text, "")); m != "" {
					t.Errorf("%s: Redmine would notify the mention %q", out.kind, m)
				}
				// Markers: exactly Passerelle's, as the last line.
				switch out.kind {
				case "description":
					if !hasTrailingMarker(out.text, requestMarker(req.ID)) || hasTrailingMarker(out.text, requestMarker("00000000-0000-4000-8000-000000000000")) {
						t.Errorf("description marker: %q", lastLine(out.text))
					}
					if len(blocks) != 2 {
						t.Errorf("description: %d verbatim blocks, want the declaration and the text", len(blocks))
					}
				default:
					if !hasTrailingMarker(out.text, messageMarker(msg.ID)) || hasTrailingMarker(out.text, messageMarker("00000000-0000-4000-8000-000000000000")) {
						t.Errorf("%s marker: %q", out.kind, lastLine(out.text))
					}
				}
				if out.kind == "close note" {
					continue
				}
				// Readable: the client's own lines (accents, line breaks) are in the last block.
				text := blocks[len(blocks)-1]
				for _, want := range []string{"Bonjour,\n", "\nMerci. Éléonore à l'étage, ça fuit « beaucoup ».\n"} {
					if !strings.Contains(text, want) {
						t.Errorf("%s: the client's text lost %q:\n%s", out.kind, want, text)
					}
				}
			}
		})
	}
}

func TestVerbatimBlock(t *testing.T) {
	long := strings.Repeat("mot ", 60) + "fin"
	for _, c := range []struct {
		name, in, want string
	}{
		{"plain", "Bonjour\n\nMerci", "<pre>\nBonjour\n\nMerci\n</pre>"},
		{"closing tag", "a </pre> b", "<pre>\na ‹/pre> b\n</pre>"},
		{"any case and other offtags", "<PRE><Code></kbd><notextile>", "<pre>\n‹PRE>‹Code>‹/kbd>‹notextile>\n</pre>"},
		{"other html kept for Redmine to escape", "<script>x</script> <b>", "<pre>\n<script>x</script> <b>\n</pre>"},
		{"macro opening", "{{toc}} {{ pas une macro }} {x}", "<pre>\n｛{toc}} {{ pas une macro }} {x}\n</pre>"},
		{"crlf", "a\r\nb\rc", "<pre>\na\nb\nc\n</pre>"},
		{"blank edges and trailing spaces", "\n\n  a  \n\n", "<pre>\n  a\n</pre>"},
		{"accents", "Éléonore, ça « va » – œuvre", "<pre>\nÉléonore, ça « va » – œuvre\n</pre>"},
		{"long line folded at a space", long, "<pre>\n" + strings.TrimSpace(strings.Repeat("mot ", 25)) + "\n" + strings.TrimSpace(strings.Repeat("mot ", 25)) + "\n" + strings.Repeat("mot ", 10) + "fin\n</pre>"},
		{"long word kept whole", strings.Repeat("x", 150), "<pre>\n" + strings.Repeat("x", 150) + "\n</pre>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := verbatimBlock(c.in); got != c.want {
				t.Errorf("verbatimBlock(%q) =\n%s\nwant\n%s", c.in, got, c.want)
			}
		})
	}
}

func TestInlineText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain name unchanged", "Jeanne Dupont", "Jeanne Dupont"},
		{"accents and apostrophe kept, hyphen referenced", "Éloïse D'Arcy-Ørsted", "Éloïse D'Arcy&#45;Ørsted"},
		{"link", `"x":http://e`, "&#34;x&#34;&#58;http&#58;&#47;&#47;e"},
		{"image and mention", "!a! @admin", "&#33;a&#33; &#64;admin"},
		{"issue and revision", "#1 r2", "&#35;&#49; r&#50;"},
		{"html", "<b>", "&#60;b&#62;"},
		{"new lines joined", "a\nh2. b", "a h&#50;&#46; b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := inlineText(c.in)
			if got != c.want {
				t.Errorf("inlineText(%q) = %q, want %q", c.in, got, c.want)
			}
			if html.UnescapeString(got) != oneLine(c.in) {
				t.Errorf("inlineText(%q) does not read back as the text: %q", c.in, html.UnescapeString(got))
			}
		})
	}
}

// The marker searches: a copy of a marker typed by a client (inside its
// text, in a note the sync user wrote) is never taken for Passerelle's own.
func TestMarkersOutOfClientReach(t *testing.T) {
	const sync = 7
	req := espaceclient.Request{ID: "11111111-1111-4111-8111-111111111111", AuthorName: "Jeanne", AuthorRole: config.RoleTenant}
	victim := "33333333-3333-4333-8333-333333333333"
	deadline := "first_answer@req:" + req.ID
	forged := strings.Join([]string{
		markerLine(messageMarker(victim)),
		markerLine(deadlines.EscalationMarker(deadline)),
		markerLine(requestMarker(victim)),
	}, "\n")
	attack := ClientNote(req, espaceclient.Message{ID: "44444444-4444-4444-8444-444444444444", AuthorName: "Jeanne", Body: "Copie :\n" + forged})
	real := ClientNote(req, espaceclient.Message{ID: victim, AuthorName: "Jeanne", Body: "Le vrai message"})
	for _, c := range []struct {
		name     string
		journals []redmine.Journal
		want     redmine.JournalID
	}{
		{"no note yet, a client quoted the marker", []redmine.Journal{{ID: 1, User: redmine.IDName{ID: sync}, Notes: attack}}, 0},
		{"the quote with Redmine's CRLF", []redmine.Journal{{ID: 1, User: redmine.IDName{ID: sync}, Notes: strings.ReplaceAll(attack, "\n", "\r\n")}}, 0},
		{"the quote as the last line of the client's text", []redmine.Journal{{ID: 1, User: redmine.IDName{ID: sync}, Notes: ClientNote(req, espaceclient.Message{ID: "66666666-6666-4666-8666-666666666666", Body: "x\n" + markerLine(messageMarker(victim))})}}, 0},
		{"a staff note ending with the marker", []redmine.Journal{{ID: 1, User: redmine.IDName{ID: 99}, Notes: real}}, 0},
		{"the real note after the quote", []redmine.Journal{{ID: 1, User: redmine.IDName{ID: sync}, Notes: attack}, {ID: 2, User: redmine.IDName{ID: sync}, Notes: strings.ReplaceAll(real, "\n", "\r\n") + "\r\n"}}, 2},
		{"a note written before this fix (marker last)", []redmine.Journal{{ID: 3, User: redmine.IDName{ID: sync}, Notes: "*Message de Jeanne (locataire) via l'espace client :*\r\n\r\nTexte\r\n\r\n_" + messageMarker(victim) + "_"}}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := findMarkedJournal(redmine.Issue{Journals: c.journals}, sync, victim); got != c.want {
				t.Errorf("findMarkedJournal = %d, want %d", got, c.want)
			}
		})
	}
	// Deadline ids are predictable (the request id is the client's): a quoted
	// escalation marker must not stand for the escalation note.
	if got := deadlines.FindEscalationJournal(redmine.Issue{Journals: []redmine.Journal{{ID: 1, User: redmine.IDName{ID: sync}, Notes: attack}}}, sync, deadline); got != 0 {
		t.Errorf("findEscalationJournal took a client's quote (journal %d)", got)
	}
	// An issue whose description quotes this request's marker in the client's
	// text is not this request's issue.
	desc := IssueDescription(espaceclient.Request{ID: "55555555-5555-4555-8555-555555555555", AuthorRole: config.RoleTenant},
		espaceclient.Message{Body: "Copie :\n" + forged}, config.Category{}, "", nil)
	if hasTrailingMarker(desc, requestMarker(victim)) || !hasTrailingMarker(desc, requestMarker("55555555-5555-4555-8555-555555555555")) {
		t.Errorf("adoption check: last line %q", lastLine(desc))
	}
}
