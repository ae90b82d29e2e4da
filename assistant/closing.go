package assistant

import (
	"strings"
	"unicode"
)

// thankWords make a closing message a thank-you.
var thankWords = map[string]bool{"thanks": true, "thank": true, "thx": true, "ty": true, "cheers": true, "danke": true,
	"gracias": true, "merci": true, "obrigado": true, "obrigada": true, "grazie": true, "bedankt": true, "dank": true}

// closers are whole messages that end an exchange — an acknowledgement,
// a "no", thanks — in the languages customers write in. They are answered
// briefly and never handed off: pinging the agents for "ok" would teach
// them to ignore the pings.
var closers = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []string{
		// English
		"ok", "okay", "k", "kk", "no", "nope", "nah", "no thanks", "no thank you", "got it", "cool", "alright", "all right",
		"fine", "great", "perfect", "understood", "that's all", "thats all", "that is all", "nothing else", "all good",
		"thanks", "thank you", "thx", "ty", "cheers", "bye", "goodbye",
		// German
		"nein", "danke", "danke schön", "danke schon", "alles klar", "passt", "gut", "super", "tschüss", "tschuss",
		// Spanish
		"vale", "gracias", "muchas gracias", "de acuerdo", "perfecto", "entendido", "nada más", "nada mas", "adiós", "adios",
		// French
		"non", "merci", "merci beaucoup", "d'accord", "daccord", "parfait", "compris", "c'est tout", "rien d'autre", "au revoir",
		// Portuguese
		"não", "nao", "obrigado", "obrigada", "muito obrigado", "muito obrigada", "tudo bem", "beleza", "certo", "entendi", "tchau",
		// Italian and Dutch
		"grazie", "va bene", "perfetto", "nee", "dank je", "dank u", "bedankt", "prima", "oké",
	} {
		m[s] = true
	}
	return m
}()

// closingEmoji are emoji that close an exchange on their own.
var closingEmoji = map[rune]bool{'👍': true, '👌': true, '🙏': true, '🙂': true, '😊': true, '✅': true}

// closingThanks reports whether a closing message thanks.
func closingThanks(text string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if thankWords[w] {
			return true
		}
	}
	return false
}

func isClosing(text string) bool {
	var words strings.Builder
	sawEmoji := false
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case closingEmoji[r]:
			sawEmoji = true
		case r == '\uFE0F' || (r >= 0x1F3FB && r <= 0x1F3FF):
		case unicode.IsLetter(r) || r == '\'':
			words.WriteRune(r)
		case unicode.IsSpace(r) || unicode.IsPunct(r):
			words.WriteRune(' ')
		default:
			return false
		}
	}
	fields := strings.Fields(words.String())
	if len(fields) == 0 {
		return sawEmoji
	}
	// ends[i]: fields[:i] is a run of closing phrases.
	ends := make([]bool, len(fields)+1)
	ends[0] = true
	for i := 1; i <= len(fields); i++ {
		for j := 0; j < i && !ends[i]; j++ {
			ends[i] = ends[j] && closers[strings.Join(fields[j:i], " ")]
		}
	}
	return ends[len(fields)]
}
