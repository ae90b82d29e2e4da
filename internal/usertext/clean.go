// Package usertext turns text from outside the bridge (Stripe data, what
// people type) into text that is safe to show in a Matrix message: nothing
// invisible, nothing that reorders the text around it, nothing that shapes
// the message as markup. Every reply, notice and answer that shows such text
// goes through it, so the rules live in one place.
package usertext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean makes outside text one line of display text: bidi controls,
// zero-width and other invisible characters are removed; control
// characters, tabs, line breaks and every other kind of space become one
// ASCII space; runs of spaces collapse; invalid UTF-8 becomes U+FFFD; and
// the ends are trimmed. Clean(Clean(s)) == Clean(s), so cleaning text that
// is already clean is harmless.
func Clean(s string) string { return filter(s, false) }

// Strip removes what Clean removes but keeps the layout, for multi-line
// text such as an assistant's markdown answer: line breaks (CR LF, CR,
// U+2028, U+2029, NEL) become "\n", tabs and spaces stay as written, other
// control characters become spaces. Nothing is collapsed or trimmed,
// because indentation means something in markdown.
func Strip(s string) string { return filter(s, true) }

func filter(s string, keepLines bool) string {
	var b strings.Builder
	b.Grow(len(s))
	// prev is the last rune kept (a pending space counts), next-rune checks
	// look ahead in s; both decide whether a joiner or selector is part of
	// an emoji.
	prev, space := rune(0), false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 {
			r = unicode.ReplacementChar
		}
		if keepLines {
			switch {
			case r == '\r':
				if i < len(s) && s[i] == '\n' {
					continue // CR LF is one break: the LF writes it
				}
				r = '\n'
			case r == '\u2028' || r == '\u2029' || r == '\u0085' || r == '\v' || r == '\f':
				r = '\n'
			}
			switch {
			case r == '\n' || r == '\t':
				b.WriteRune(r)
				prev = r
				continue
			case unicode.IsControl(r):
				r = ' '
			}
		} else if unicode.IsControl(r) || unicode.IsSpace(r) {
			space, prev = b.Len() > 0, ' '
			continue
		}
		if invisible(r, prev, s[i:]) {
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

const (
	zwj          = '\u200D'
	textStyle    = '\uFE0E'
	emojiStyle   = '\uFE0F'
	skinToneLow  = '\U0001F3FB'
	skinToneHigh = '\U0001F3FF'
)

// invisible reports whether r is drawn as nothing or changes how other
// characters are drawn without being seen: bidi embeddings, overrides,
// isolates and marks, zero-width spaces and joiners, word joiners and
// invisible operators, the BOM, the soft hyphen, tag characters, Hangul
// fillers — all format characters (Cf) and default-ignorable code points.
// Two are kept where they belong to an emoji, so 👩‍💻 and ❤️ stay intact: a
// ZWJ between two emoji, and one presentation selector after a visible
// character.
func invisible(r, prev rune, rest string) bool {
	switch {
	case r == zwj:
		next, _ := utf8.DecodeRuneInString(rest)
		return !emojiEnd(prev) || !unicode.Is(unicode.So, next)
	case r == textStyle || r == emojiStyle:
		return prev == 0 || prev == ' ' || prev == '\n' || prev == '\t' ||
			unicode.Is(unicode.Variation_Selector, prev) || prev == zwj
	case unicode.Is(unicode.Variation_Selector, r):
		// The other selectors pick glyph variants nobody needs in a billing
		// message, and a chain of them can smuggle hidden data.
		return true
	}
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// emojiEnd reports whether r can end the emoji before a ZWJ.
func emojiEnd(r rune) bool {
	return unicode.Is(unicode.So, r) || r == emojiStyle || (r >= skinToneLow && r <= skinToneHigh)
}
