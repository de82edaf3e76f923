package bridge

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"passerelle/internal/textile"
)

// Client text in Redmine (issue 10 item 4).
//
// Everything a client writes (request body, follow-ups, the "emplacement"
// field, and the name and e-mail traits, set by the agency but still untrusted) reaches
// Redmine's text formatter. The stack's Redmine 5.0.4 uses Textile (the
// default: Setting.text_formatting is not set by scripts/redmine-provision.rb).
// Nothing a client writes may be read as markup there. Two renderings:
//
//   - verbatimBlock, for text (several lines, the body): a Textile <pre>
//     block. Redmine keeps its content out of every rule: RedCloth3's
//     rip_offtags HTML-escapes it and sets it aside before the block and
//     inline rules (headings, images, links, auto-links, e-mail links), the
//     Redmine links, wiki links and inline attachments run only outside
//     <pre>/<code> (ApplicationHelper#parse_non_pre_blocks), macros inside
//     it are shown, not run (inject_macros with execute=false), and
//     @mentions inside an exact "<pre>…</pre>" are not notified
//     (Mentionable#scan_for_mentioned_users). Line breaks and accents are
//     kept. The client cannot close the block early: every "<pre", "</pre",
//     "<code", "<kbd" and "<notextile" (RedCloth3's OFFTAGS, any case) in
//     the text gets its "<" replaced by "‹". A "{{name" that could open a
//     multi-line macro reaching past the block gets its first "{" replaced
//     by "｛". Lines longer than foldWidth are folded at a space, since
//     Redmine's CSS does not wrap <pre> (long lines would scroll).
//   - inlineText, for a short value inside Passerelle's own sentence (the
//     declared name in a note): every character but letters, combining
//     marks, spaces and apostrophes becomes a numeric character reference
//     (&#64; for "@"), which RedCloth3 passes through as is and browsers
//     show as the character. No markup, link, mention or Redmine link can
//     be formed without punctuation or digits. A plain name is unchanged.
//
// Markers: every note and description Passerelle writes ends with its marker
// line ("_Réf. message espace client : ID_", "_Réf. alerte Passerelle : ID_",
// "_Identifiant interne espace client : ID_"), always after the client's
// text, which sits inside a verbatim block. hasTrailingMarker recognizes a
// marker only as the last non-blank line: a copy a client types is inside
// the block, never last, and is ignored.

const foldWidth = 100

// offtagRE matches the opening of a tag RedCloth3 treats as verbatim
// (OFFTAGS = code|pre|kbd|notextile, case-insensitive), which could close or
// nest Passerelle's <pre> block.
var offtagRE = regexp.MustCompile(`(?i)<(/?(?:pre|code|kbd|notextile))`)

// macroRE matches the opening of a Redmine macro, "{{" and a word character
// (ApplicationHelper::MACROS_RE).
var macroRE = regexp.MustCompile(`\{(\{[\p{L}\p{N}_])`)

// neutralizeVerbatim makes s safe to put between "<pre>" and "</pre>".
func neutralizeVerbatim(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = offtagRE.ReplaceAllString(s, "‹$1")
	s = macroRE.ReplaceAllString(s, "｛$1")
	return s
}

// verbatimBlock returns s as a Textile <pre> block, on lines of its own,
// that Redmine shows as plain text.
func verbatimBlock(s string) string {
	s = neutralizeVerbatim(s)
	s = strings.Trim(s, "\n")
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.WriteString("<pre>\n")
	for _, l := range lines {
		for _, f := range fold(strings.TrimRight(l, " \t"), foldWidth) {
			b.WriteString(f)
			b.WriteByte('\n')
		}
	}
	b.WriteString("</pre>")
	return b.String()
}

// fold cuts a line longer than width runes at its last space within width
// (a word longer than width stays whole).
func fold(line string, width int) []string {
	var out []string
	for utf8.RuneCountInString(line) > width {
		r := []rune(line)
		cut := -1
		for i := width; i > 0; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		if cut <= 0 {
			// No space in reach: cut at the next space, if any.
			for i := width; i < len(r); i++ {
				if r[i] == ' ' {
					cut = i
					break
				}
			}
			if cut <= 0 {
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		line = strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(out, line)
}

// The inline and marker helpers live in internal/textile, which the
// deadlines package shares (its escalation note has a name and a marker).
var (
	inlineText        = textile.Inline
	markerLine        = textile.MarkerLine
	hasTrailingMarker = textile.HasTrailingMarker
	oneLine           = textile.OneLine
	lastLine          = textile.LastLine
)
