package espaceclient

import (
	"html"
	"regexp"
	"strings"
)

// RenderText turns a message's text — a client's plain text, or a staff
// note written in Redmine's Textile or Markdown — into safe HTML for the
// customer space: everything is escaped (no HTML from the source ever reaches
// the page), line breaks are kept, and links are kept as links: bare http(s)
// URLs, Textile "text":url and Markdown [text](url). Only http and https links
// are made; they open with rel="nofollow noopener noreferrer".
func RenderText(src string) string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	var b strings.Builder
	for len(src) > 0 {
		loc := linkRe.FindStringSubmatchIndex(src)
		if loc == nil {
			b.WriteString(escapeLines(src))
			break
		}
		b.WriteString(escapeLines(src[:loc[0]]))
		var text, url string
		switch {
		case loc[2] >= 0: // Markdown [text](url)
			text, url = src[loc[2]:loc[3]], src[loc[4]:loc[5]]
		case loc[6] >= 0: // Textile "text":url
			text, url = src[loc[6]:loc[7]], src[loc[8]:loc[9]]
		default: // bare URL, without trailing punctuation
			url = strings.TrimRight(src[loc[10]:loc[11]], ".,;:!?)")
			text = url
			loc[1] = loc[10] + len(url)
		}
		b.WriteString(`<a href="` + html.EscapeString(url) + `" rel="nofollow noopener noreferrer">` + escapeLines(text) + `</a>`)
		src = src[loc[1]:]
	}
	return b.String()
}

var linkRe = regexp.MustCompile(`\[([^\]\n]{1,200})\]\((https?://[^\s()<>"]+)\)|"([^"\n]{1,200})":(https?://[^\s<>"]+[^\s<>".,;:!?)])|(https?://[^\s<>"]+)`)

func escapeLines(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>\n")
}
