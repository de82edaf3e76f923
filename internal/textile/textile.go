// Package textile holds the Textile helpers that both the bridge and the
// deadlines package need when they write to Redmine: a short untrusted value
// inside Passerelle's own sentence (Inline), and the marker line that ends
// every note and description Passerelle writes (MarkerLine,
// HasTrailingMarker). The reasoning is in bridge/markup.go, with the
// verbatim block the rest of the client's text goes in.
package textile

import (
	"strconv"
	"strings"
	"unicode"
)

// OneLine returns s with every run of white space (line breaks included)
// replaced by one space, and no space around it.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Inline returns s on one line, with every character that could take part
// in Textile or Redmine markup written as a numeric character reference.
// Letters (accented included), combining marks, spaces and apostrophes are
// kept as they are, so a plain name reads unchanged.
func Inline(s string) string {
	s = OneLine(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '\'' || r == '’' || unicode.IsLetter(r) || unicode.IsMark(r):
			b.WriteRune(r)
		default:
			b.WriteString("&#" + strconv.Itoa(int(r)) + ";")
		}
	}
	return b.String()
}

// MarkerLine is how a marker is written: alone on the last line, in italics.
func MarkerLine(marker string) string {
	return "_" + marker + "_"
}

// HasTrailingMarker reports whether text (a journal's notes, an issue's
// description) ends with Passerelle's marker line for marker. Only the last
// non-blank line counts: a copy inside the client's text is never last,
// because Passerelle writes the client's text, in a verbatim block, before
// its marker.
func HasTrailingMarker(text, marker string) bool {
	return LastLine(text) == MarkerLine(marker)
}

// LastLine returns the last non-blank line of text, without surrounding
// spaces (Redmine stores line ends as \r\n).
func LastLine(text string) string {
	text = strings.TrimRight(text, " \t\r\n")
	if i := strings.LastIndexAny(text, "\r\n"); i >= 0 {
		text = text[i+1:]
	}
	return strings.TrimSpace(text)
}
