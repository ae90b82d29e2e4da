package assistant

// Lang is a language the assistant reads and answers in: a lowercase
// ISO 639-1 code.
type Lang string

// The supported languages. English is the fallback for a message with no
// evidence of any language.
const (
	LangEN Lang = "en"
	LangDE Lang = "de"
	LangES Lang = "es"
	LangFR Lang = "fr"
	LangPT Lang = "pt"
	LangIT Lang = "it"
	LangNL Lang = "nl"
)

// Languages lists the supported languages in a fixed order.
var Languages = []Lang{LangEN, LangDE, LangES, LangFR, LangPT, LangIT, LangNL}

// lexicon is what the engine knows of one language. Every string is
// written as a native speaker spells it; the engine folds case and accents
// itself, so "rückerstattung" and "ruckerstattung" meet.
type lexicon struct {
	lang Lang
	// common are the language's most frequent function words (pronouns,
	// articles, auxiliaries, prepositions), space-separated; they decide
	// which language a message is in. Words shared with other supported
	// languages are fine; the engine weighs the ones that are not.
	common string
	// negation words refuse or deny ("not", "don't", "never", "no").
	negation string
	// ability words turn a negation into "unable" rather than "refuse"
	// ("can", "could"): "I can't cancel" still asks to cancel.
	ability string
	// contrast words start a new part of a sentence ("but", "just",
	// "instead", "only").
	contrast string
	// yes are whole replies that accept an offer ("yes", "yes please",
	// "go ahead"), separated by "|".
	yes string
	// words map a word, or a prefix ending in "*", to one or more of the
	// engine's canonical English words (space-separated).
	words map[string]string
}
