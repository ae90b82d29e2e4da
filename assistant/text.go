package assistant

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// text is a message taken apart: its language, its parts (clauses, split
// at punctuation and at "but"-words) and each part's canonical stems.
type text struct {
	raw       string
	lang      Lang
	tokens    []string // folded words as written
	words     []string // canonical words, unstemmed, in order
	parts     []part
	all       map[string]bool // every stem
	unrefused map[string]bool // stems of parts that do not refuse
	function  int             // how many tokens are the language's function words
	emails    []string
	customers []string // cus_… ids named in the message
}

type part struct {
	stems    map[string]bool
	free     map[string]bool // stems not refused by a negation just before them
	negated  map[string]bool // stems right after a negation, ability or not
	question bool
}

// refusalReach is how many words after a "not" are refused: "don't
// (1) want (2) to (3) cancel (4)".
const refusalReach = 4

var (
	emailRe    = regexp.MustCompile(`[\w.+-]+@[\w-]+(\.[\w-]+)+`)
	customerRe = regexp.MustCompile(`\bcus_[A-Za-z0-9]+\b`)
	urlRe      = regexp.MustCompile(`https?://\S+`)
)

// greetingWords count only where a greeting stands.
var greetingWords = map[string]bool{"hello": true, "hi": true, "morning": true, "afternoon": true, "evening": true, "good": true}

// questionWords mark a part as the question in a longer message.
var questionWords = map[string]bool{"when": true, "where": true, "why": true, "what": true, "how": true, "which": true}

func (e *Engine) analyze(msg string, hint Lang) *text {
	t := &text{raw: msg, all: map[string]bool{}, unrefused: map[string]bool{}}
	t.emails = emailRe.FindAllString(msg, -1)
	t.customers = customerRe.FindAllString(msg, -1)
	msg = emailRe.ReplaceAllString(msg, " email ")
	msg = customerRe.ReplaceAllString(msg, " customer ")
	msg = urlRe.ReplaceAllString(msg, " ")

	raw := splitParts(fold(msg))
	for _, p := range raw {
		t.tokens = append(t.tokens, p.words...)
	}
	t.lang = e.detect(strings.ToLower(msg), t.tokens, hint)
	lx := e.lex[t.lang]
	for _, rp := range raw {
		// "but"-words start a new part: "don't cancel, just pause".
		for _, words := range splitContrast(rp.words, lx, joiners[t.lang]) {
			p := part{stems: map[string]bool{}, free: map[string]bool{}, negated: map[string]bool{"not": true}, question: rp.question}
			var canon []string
			able := false
			for _, tok := range words {
				if lx.common[tok] {
					t.function++
				}
				for _, w := range e.canon(t.lang, tok) {
					able = able || w == "can" || w == "cant"
					canon = append(canon, w)
				}
			}
			// A request right after a negation is refused ("I don't want
			// to cancel"), unless the negation is of ability ("I can't
			// cancel"); a "not" further back is about something else ("not
			// happy with the service, I want a refund").
			// A greeting opens a message ("Morgen!", "hi there"); the same
			// word later is something else ("…das Wetter morgen?").
			greets := len(t.parts) == 0 && len(words) <= 4
			// German and Dutch put the negation after the verb ("verlängern
			// Sie nicht mehr"); the others before it.
			var nots []int
			for i, w := range canon {
				if w == "not" {
					nots = append(nots, i)
				}
			}
			afterVerb := t.lang == LangDE || t.lang == LangNL
			for i, w := range canon {
				if greetingWords[w] && !greets && i > 0 {
					continue
				}
				if questionWords[w] {
					p.question = true
				}
				st := stem(w)
				p.stems[st] = true
				refused, negated := false, false
				for _, n := range nots {
					d := i - n
					if d >= -refusalReach && d <= refusalReach {
						negated = true
						refused = refused || d >= 0 || afterVerb
					}
				}
				if able || !refused {
					p.free[st] = true
				}
				if negated {
					p.negated[st] = true
				}
				if slices.Contains(canonicalMonths, w) {
					p.stems["month"], p.free["month"] = true, true
				}
			}
			t.words = append(t.words, canon...)
			if len(p.stems) == 0 {
				continue
			}
			for s := range p.stems {
				t.all[s] = true
			}
			for s := range p.free {
				t.unrefused[s] = true
			}
			t.parts = append(t.parts, p)
		}
	}
	return t
}

type rawPart struct {
	words    []string
	question bool
}

// elided are the French and Italian words that lose their vowel before an
// apostrophe ("l'abonnement", "n'ai", "dell'abbonamento"): they are words
// of their own. Elsewhere an apostrophe joins ("didn't" is "didnt").
var elided = map[string]bool{"l": true, "d": true, "j": true, "m": true, "n": true, "s": true, "t": true, "c": true,
	"qu": true, "lorsqu": true, "puisqu": true, "jusqu": true, "quelqu": true, "dell": true, "nell": true, "all": true,
	"dall": true, "sull": true, "un": true, "gl": true, "quest": true}

// splitParts splits folded text into words, and into parts at sentence
// punctuation.
func splitParts(s string) []rawPart {
	var parts []rawPart
	var cur rawPart
	var word strings.Builder
	flushWord := func() {
		if word.Len() > 0 {
			cur.words = append(cur.words, word.String())
			word.Reset()
		}
	}
	flushPart := func() {
		flushWord()
		if len(cur.words) > 0 {
			parts = append(parts, cur)
		}
		cur = rawPart{}
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(r)
		case r == '\'' || r == '’' || r == '`':
			if elided[word.String()] {
				flushWord()
			}
		case r == '?':
			cur.question = true
			flushPart()
		case strings.ContainsRune(".!;:,\n¿¡()", r):
			flushPart()
		default:
			flushWord()
		}
	}
	flushPart()
	return parts
}

// joiners join two requests in one sentence ("did it go through and
// when is the next one?"), per language: Dutch "en" is French "in".
var joiners = map[Lang]map[string]bool{LangEN: set("and also plus"), LangDE: set("und sowie auch"), LangES: set("y también"),
	LangFR: set("et aussi"), LangPT: set("e também"), LangIT: set("e anche"), LangNL: set("en ook")}

// splitContrast cuts a part before each contrast word or joiner, which
// itself is dropped.
func splitContrast(words []string, lx *compiledLex, joiners map[string]bool) [][]string {
	var out [][]string
	start := 0
	for i, w := range words {
		if lx.contrast[w] || joiners[w] {
			if i > start {
				out = append(out, words[start:i])
			}
			start = i + 1
		}
	}
	if start < len(words) {
		out = append(out, words[start:])
	}
	return out
}

var (
	ouEst        = regexp.MustCompile(`(^|[^\pL])ou (est|en est|sont)\b`)
	standaloneIs = regexp.MustCompile(`(^|[^\pL])[èé]([^\pL]|$)`)
)

var accents = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

// fold lowercases and removes accents, so a customer who types without
// them ("reembolso", "ruckerstattung") meets the lexicon.
func fold(s string) string {
	s = strings.ToLower(s)
	// Accents that change a word: French "où" is "where", "ou" is "or"
	// (and "ou est…?" asks where); Italian "è" and Portuguese "é" are
	// "is", not the "e" that joins two requests.
	s = strings.ReplaceAll(s, "où", " ouu ")
	s = ouEst.ReplaceAllString(s, "${1}ouu ${2}")
	s = standaloneIs.ReplaceAllString(s, "$1 $2")
	s = strings.NewReplacer("ß", "ss", "œ", "oe", "æ", "ae", "ø", "o", "ł", "l").Replace(s)
	out, _, err := transform.String(accents, s)
	if err != nil {
		return s
	}
	return out
}

// detect picks the language whose function words the message uses most,
// weighing each word by how many languages share it; the hint breaks
// ties and decides a message with no evidence (a bare "ok").
func (e *Engine) detect(lower string, tokens []string, hint Lang) Lang {
	score := map[Lang]float64{}
	// Spelling gives a language away where its words are shared:
	// "ção", "ñ", "ß", "ij".
	for l, marks := range spelling {
		for _, m := range marks {
			if strings.Contains(lower, m) {
				score[l] += 0.6
			}
		}
	}
	for _, tok := range tokens {
		var in []Lang
		for _, l := range Languages {
			lx := e.lex[l]
			if lx.common[tok] || lx.exact[tok] != nil {
				in = append(in, l)
			}
		}
		for _, l := range in {
			score[l] += 1 / float64(len(in))
		}
	}
	if _, ok := e.lex[hint]; ok {
		score[hint] += 0.75
	}
	bestLang, top := LangEN, 0.0
	if hint != "" && e.lex[hint] != nil {
		bestLang = hint
	}
	for _, l := range Languages {
		if score[l] > top+1e-9 {
			bestLang, top = l, score[l]
		}
	}
	return bestLang
}

// spelling are letter groups typical of one supported language.
var spelling = map[Lang][]string{
	LangPT: {"ção", "ções", "ã", "õ", "lh", "nh"},
	LangES: {"ñ", "¿", "¡", "ción"},
	LangDE: {"ß", "ä", "ö", "ü", "sch", "ung"},
	LangFR: {"è", "ê", "eau", "oux", "ç"},
	LangIT: {"zz", "gli", "cch", "zione"},
	LangNL: {"ij", "aa", "uu"},
}

// LangOf turns a locale tag ("pt-BR", "de_CH", "fr") into a supported
// language, or "".
func LangOf(locale string) Lang {
	code := strings.ToLower(locale)
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	for _, l := range Languages {
		if string(l) == code {
			return l
		}
	}
	return ""
}

// compiledLex is a lexicon ready for lookups: folded keys, prefixes
// longest first.
type compiledLex struct {
	common, negation, ability, contrast, yes map[string]bool
	exact                                    map[string][]string
	keys                                     []string // sorted exact keys, for typo correction
	prefixes                                 []prefixEntry
}

type prefixEntry struct {
	prefix string
	words  []string
}

func allLexicons() []lexicon { return []lexicon{lexEN, lexDE, lexES, lexFR, lexPT, lexIT, lexNL} }

func compileLexicons() map[Lang]*compiledLex {
	out := map[Lang]*compiledLex{}
	for _, l := range allLexicons() {
		c := &compiledLex{common: set(l.common), negation: set(l.negation), ability: set(l.ability), contrast: set(l.contrast),
			yes: map[string]bool{}, exact: map[string][]string{}}
		for _, y := range strings.Split(l.yes, "|") {
			if y = phrase(y); y != "" {
				c.yes[y] = true
			}
		}
		for k, v := range l.words {
			k = fold(k)
			if p, ok := strings.CutSuffix(k, "*"); ok {
				c.prefixes = append(c.prefixes, prefixEntry{p, strings.Fields(v)})
			} else {
				c.exact[k] = strings.Fields(v)
				c.keys = append(c.keys, k)
			}
		}
		sort.Strings(c.keys)
		sort.Slice(c.prefixes, func(i, j int) bool {
			a, b := c.prefixes[i].prefix, c.prefixes[j].prefix
			return len(a) > len(b) || (len(a) == len(b) && a < b)
		})
		out[l.lang] = c
	}
	return out
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(fold(words)) {
		m[w] = true
	}
	return m
}

// phrase is a short reply reduced to its folded words, for matching whole
// replies ("Yes, please!" = "yes please").
func phrase(s string) string {
	var words []string
	for _, p := range splitParts(fold(s)) {
		words = append(words, p.words...)
	}
	return strings.Join(words, " ")
}

// canon maps a folded token to the engine's canonical English words: the
// message's own language first, then English, then a typo-tolerant match.
// A word no table knows is kept as it is.
func (e *Engine) canon(lang Lang, tok string) []string {
	if tok == "2" {
		return []string{"two"}
	}
	lx := e.lex[lang]
	neg, able := lx.negation[tok], lx.ability[tok]
	switch {
	case neg && able:
		return []string{"cant", "not"}
	case neg:
		return []string{"not"}
	case able:
		return []string{"can"}
	}
	if w := lx.lookup(tok); w != nil {
		return w
	}
	// A function word of the message's language is that, even where
	// another language has the same letters ("ai" in "j'ai" is not AI).
	if lx.common[tok] {
		return []string{tok}
	}
	en := e.lex[LangEN]
	if lang != LangEN {
		if w := en.lookup(tok); w != nil {
			return w
		}
	}
	if e.vocab[stem(tok)] {
		return []string{tok}
	}
	if len(tok) >= 5 {
		if w := e.fuzzy(lang, lx, tok); w != nil {
			return w
		}
		if lang != LangEN {
			if w := e.fuzzy(lang, en, tok); w != nil {
				return w
			}
		}
	}
	return []string{tok}
}

func (c *compiledLex) lookup(tok string) []string {
	if w, ok := c.exact[tok]; ok {
		return w
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(tok, p.prefix) {
			return p.words
		}
	}
	return nil
}

// minFuzzy is the shortest lexicon word typo correction reaches: in
// shorter ones one edit turns too many ordinary words into keywords
// ("öffne" → "offen", "passar" → "pausar"). English, whose keywords are
// the canonical words themselves, corrects from five letters.
const minFuzzy = 7

// fuzzy corrects one typo (an insertion, deletion, substitution or swap)
// against the lexicon's words and prefixes and, in an English message,
// the canonical vocabulary ("perso" in Italian is not "person").
// Two different meanings within one edit is ambiguous: no guess.
func (e *Engine) fuzzy(lang Lang, c *compiledLex, tok string) []string {
	var found []string
	consider := func(words []string) bool {
		if found != nil && strings.Join(found, " ") != strings.Join(words, " ") {
			return false
		}
		found = words
		return true
	}
	for _, k := range c.keys {
		// Slips rarely hit the first letter, and a different first letter
		// is often a different word ("mettere", "smettere").
		if len(k) >= minFuzzy && k[0] == tok[0] && editDistanceAtMost1(tok, k) && !consider(c.exact[k]) {
			return nil
		}
	}
	for _, p := range c.prefixes {
		n := len(p.prefix)
		if n < minFuzzy-1 {
			continue
		}
		// The word is an inflection of the prefix, so at least as long,
		// but for a letter a long word may have lost.
		if len(tok) < n && (len(tok) < n-1 || n < 7) {
			continue
		}
		for _, m := range []int{n - 1, n, n + 1} {
			if m > 0 && m <= len(tok) && tok[0] == p.prefix[0] && editDistanceAtMost1(tok[:m], p.prefix) && tok[:m] != p.prefix {
				if !consider(p.words) {
					return nil
				}
				break
			}
		}
	}
	if lang != LangEN {
		return found
	}
	s := stem(tok)
	for _, v := range e.vocabOrd {
		// Four letters take a slip only as a missing or extra one:
		// "ship" is not "skip".
		if len(v) < 4 || (len(v) == len(s) && len(v) < 5) {
			continue
		}
		if editDistanceAtMost1(s, v) && !consider([]string{v}) {
			return nil
		}
	}
	return found
}
