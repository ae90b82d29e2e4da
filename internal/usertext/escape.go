package usertext

import (
	"html"
	"strings"
	"unicode"
)

// HTML is Clean(s) escaped for an HTML formatted body, so a name like
// "<img src=x>" is shown, never parsed.
func HTML(s string) string { return html.EscapeString(Clean(s)) }

// Markdown is Clean(s) with every ASCII punctuation and symbol character
// backslash-escaped, for markdown that is rendered into a message (as
// mautrix's format.RenderMarkdown does). CommonMark turns each escape back
// into the literal character and the renderer then escapes it for HTML, so
// neither markdown (`*bold*`, links, headings, lists) nor HTML in the text
// can shape the message; the reader sees the text as it was typed. Only
// ASCII needs escaping: no other character has a meaning in markdown.
func Markdown(s string) string {
	s = Clean(s)
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for _, r := range s {
		if r < unicode.MaxASCII && (unicode.IsPunct(r) || unicode.IsSymbol(r)) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
