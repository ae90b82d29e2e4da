package usertext

import (
	"html"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzClean checks what every caller relies on, for any input: the result
// is valid UTF-8 on one line with nothing invisible left but an emoji's
// joiner or selector, cleaning twice changes nothing, HTML carries no
// markup, and Markdown renders back to exactly the cleaned text.
func FuzzClean(f *testing.F) {
	for _, seed := range []string{
		"", "Ada Lovelace", everything, "\u202Efdp.exe", "👩‍💻 ❤️ 🏳️‍🌈", "\xff\xfe", "a\r\nb",
		"<script>*x* [l](https://e.example)</script>", "# h\n- li\n1. x", "\\*", "&amp; &#60;",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Clean(s)
		if !utf8.ValidString(c) {
			t.Fatalf("Clean(%+q) = %+q is not valid UTF-8", s, c)
		}
		if c != strings.TrimSpace(c) || strings.Contains(c, "  ") {
			t.Errorf("Clean(%+q) = %+q has untrimmed or doubled spaces", s, c)
		}
		for _, r := range c {
			if (unicode.IsSpace(r) && r != ' ') || unicode.IsControl(r) {
				t.Errorf("Clean(%+q) = %+q keeps %U", s, c, r)
			}
			if r != zwj && r != emojiStyle && r != textStyle &&
				(unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r)) {
				t.Errorf("Clean(%+q) = %+q keeps invisible %U", s, c, r)
			}
		}
		if again := Clean(c); again != c {
			t.Errorf("Clean is not idempotent: %+q -> %+q -> %+q", s, c, again)
		}
		if h := HTML(s); strings.ContainsAny(h, `<>"'`) || html.UnescapeString(h) != c {
			t.Errorf("HTML(%+q) = %+q", s, h)
		}
		for _, r := range Strip(s) {
			if r != '\n' && r != '\t' && unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Errorf("Strip(%+q) keeps %U", s, r)
			}
		}
		if body, formatted := render("x " + Markdown(s)); body != strings.TrimSpace("x "+c) ||
			strings.Contains(strings.ReplaceAll(formatted, "<br>", ""), "<") {
			t.Errorf("Markdown(%+q) = %+q renders as %+q / %+q, want body %+q", s, Markdown(s), body, formatted, "x "+c)
		}
	})
}
