package espaceclient

import (
	"strings"
	"unicode/utf8"

	"passerelle/internal/textnorm"
)

func displayName(id Identity) string {
	if n := strings.TrimSpace(id.Name); n != "" {
		return n
	}
	return id.Email
}

// cleanField normalizes a text field (valid UTF-8 required; control and
// invisible formatting characters removed; line breaks kept only when
// multiline, as \n; surrounding spaces trimmed) and checks its length in
// characters.
func cleanField(field, what, s string, multiline bool, max int) (string, *Error) {
	if !utf8.ValidString(s) {
		return "", invalid("invalid_text", field, "%s contient des caractères illisibles : le texte doit être encodé en UTF-8.", what)
	}
	if strings.ContainsRune(s, 0) {
		// A NUL is no text a person types: refused as the inbound hook
		// does, rather than silently cut out.
		return "", invalid("invalid_text", field, "%s contient un caractère nul (U+0000) : retirez-le et envoyez à nouveau.", what)
	}
	var out string
	if multiline {
		out = cleanMultiline(s)
	} else {
		out = cleanLine(s)
	}
	if n := utf8.RuneCountInString(out); max > 0 && n > max {
		return "", invalid("too_long", field, "%s ne doit pas dépasser %d caractères (il en compte %d).", what, max, n)
	}
	return out, nil
}

// cleanLine makes s one line: each run of spaces and line breaks becomes one
// space, control characters are dropped (textnorm.Line).
func cleanLine(s string) string { return textnorm.Line(s) }

// cleanMultiline keeps line breaks as \n and drops control characters
// (textnorm.Multiline).
func cleanMultiline(s string) string { return textnorm.Multiline(s) }

// truncateRunes cuts s to n characters, the last one an ellipsis.
func truncateRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
