// Package assistant answers a customer's plain-language billing questions from that customer's own Stripe data, and says when a human should take over.
package assistant

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// Intent is what a customer's message asks for.
type Intent string

// The intents the engine recognises. Values are stable snake_case strings
// because they appear in the corpus, logs and the ask subcommand's output.
const (
	IntentFailedPayment Intent = "failed_payment"
	IntentNextBill      Intent = "next_bill"
	IntentRefundRequest Intent = "refund_request"
	IntentRefundStatus  Intent = "refund_status"
	IntentInvoices      Intent = "invoices"
	IntentReceipt       Intent = "receipt"
	IntentBalance       Intent = "balance"
	IntentUpdatePayment Intent = "update_payment"
	IntentCancel        Intent = "cancel"
	IntentChangePlan    Intent = "change_plan"
	IntentPause         Intent = "pause"
	IntentDispute       Intent = "dispute"
	IntentHuman         Intent = "human"
	IntentGreeting      Intent = "greeting"
	IntentThanks        Intent = "thanks"
	IntentUnknown       Intent = "unknown"
)

// DefaultThreshold is the confidence below which a human takes over. It is
// set so that a single weak cue ("card", "why") never answers on its own,
// while one unambiguous keyword ("refund", "cancel") does.
const DefaultThreshold = 0.55

// Options configure an Engine.
type Options struct {
	Threshold     float64     // below it: hand off (default 0.55)
	CommandPrefix string      // e.g. "!stripe", to offer self-service commands in replies
	LLM           *LLMOptions // optional LLM mode; nil keeps the rule engine only
	// SelfService says whether the customer may run a self-service command
	// ("portal", "request-refund", "cancel", "change-plan"); the assistant
	// never offers one that is off, it hands off instead. nil: all are on.
	SelfService func(command string) bool
}

// Engine classifies and answers questions. It holds only compiled,
// read-only tables, so one Engine is safe for concurrent use by every room.
type Engine struct {
	opts     Options
	features []compiled
	vocab    map[string]bool
	vocabOrd []string          // sorted stems, so typo correction is deterministic
	surface  map[string]string // keyword as written → its stem
	surfOrd  []string          // sorted keys of surface
}

// compiled is a feature with its terms already stemmed.
type compiled struct {
	intent Intent
	terms  []string
	weight float64
}

// New builds an Engine; a zero Threshold means DefaultThreshold and an
// empty CommandPrefix means "!stripe".
func New(opts Options) *Engine {
	if opts.Threshold <= 0 {
		opts.Threshold = DefaultThreshold
	}
	if opts.CommandPrefix == "" {
		opts.CommandPrefix = "!stripe"
	}
	e := &Engine{opts: opts, vocab: map[string]bool{}, surface: map[string]string{}}
	for _, f := range featureTable() {
		c := compiled{intent: f.intent, weight: f.weight}
		for _, w := range strings.Fields(f.terms) {
			s := stem(expand(w))
			c.terms = append(c.terms, s)
			e.vocab[s] = true
			e.surface[expand(w)] = s
		}
		e.features = append(e.features, c)
	}
	for w := range e.vocab {
		e.vocabOrd = append(e.vocabOrd, w)
	}
	sort.Strings(e.vocabOrd)
	for w := range e.surface {
		e.surfOrd = append(e.surfOrd, w)
	}
	sort.Strings(e.surfOrd)
	return e
}

// Classify returns the most likely intent and a confidence in 0..1. A
// message with no billing cue at all is IntentUnknown with confidence 0.
func (e *Engine) Classify(text string) (Intent, float64) {
	present := map[string]bool{}
	for _, tok := range tokenize(text) {
		present[e.normalize(tok)] = true
	}
	scores := map[Intent]float64{}
	for _, f := range e.features {
		if all(present, f.terms) {
			scores[f.intent] += f.weight
		}
	}
	// A greeting or thanks wrapped around a real question is politeness,
	// not the request: "hi, my payment failed" is about the payment.
	substantive := false
	for in, s := range scores {
		if in != IntentGreeting && in != IntentThanks && s >= 2 {
			substantive = true
		}
	}
	if substantive {
		scores[IntentGreeting] *= 0.3
		scores[IntentThanks] *= 0.3
	}

	best, first, second := IntentUnknown, 0.0, 0.0
	// Iterate in a fixed order so ties resolve the same way every run.
	for _, in := range intentOrder() {
		s := scores[in]
		switch {
		case s > first:
			best, first, second = in, s, first
		case s > second:
			second = s
		}
	}
	if first <= 0 {
		return IntentUnknown, 0
	}
	// Strength grows with the evidence and saturates; the margin ratio
	// punishes messages that fit two intents about equally well.
	strength := 1 - math.Exp(-first/2)
	margin := (first - second) / first
	return best, round(strength * (0.55 + 0.45*margin))
}

func round(f float64) float64 { return math.Round(f*100) / 100 }

func all(present map[string]bool, terms []string) bool {
	for _, t := range terms {
		if !present[t] {
			return false
		}
	}
	return true
}

// normalize maps a raw token to a vocabulary stem, correcting one typo in
// longer words. Short words are left alone: at four letters and under one
// edit turns too many ordinary words into keywords ("bill" → "bull").
func (e *Engine) normalize(tok string) string {
	s := stem(expand(tok))
	if e.vocab[s] || len([]rune(tok)) < 5 {
		return s
	}
	// Whole words first: a slip is easiest to see before stemming
	// ("pasue" is one swap from "pause" but also one edit from the stem of
	// "past").
	if m, ok := unique(tok, e.surfOrd, 5); ok {
		return e.surface[m]
	}
	if m, ok := unique(s, e.vocabOrd, 4); ok {
		return m
	}
	return s
}

// unique returns the only candidate of at least minLen letters within one
// edit of w. Two candidates means the typo is ambiguous, and guessing would
// be worse than treating it as an unknown word.
func unique(w string, candidates []string, minLen int) (string, bool) {
	match := ""
	for _, c := range candidates {
		if len(c) < minLen || !editDistanceAtMost1(w, c) {
			continue
		}
		if match != "" {
			return "", false
		}
		match = c
	}
	return match, match != ""
}

// tokenize lowercases, drops apostrophes so "didn't" stays one word, and
// splits on everything that is not a letter or digit.
func tokenize(text string) []string {
	text = strings.ToLower(text)
	text = strings.NewReplacer("'", "", "’", "", "`", "").Replace(text)
	return strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// expand rewrites chat abbreviations and irregular forms a suffix-stripper
// cannot reach to their full words.
func expand(w string) string {
	switch w {
	case "nxt":
		return "next"
	case "thx", "thanx", "tnx", "ty", "tq":
		return "thanks"
	case "u":
		return "you"
	case "pls", "plz":
		return "please"
	case "acct":
		return "account"
	case "pmt", "pymt":
		return "payment"
	case "sub", "subs":
		return "subscription"
	case "cancelled", "canceled", "cancelling", "canceling", "cancellation", "cancelation":
		return "cancel"
	case "recognize", "recognise", "recognized", "recognised":
		return "recognise"
	case "renewal", "renewals":
		return "renew"
	case "unsubscribed":
		return "unsubscribe"
	case "temporary", "temporarily":
		return "temporarily"
	case "annually", "yearly", "annual":
		return "annual"
	}
	return w
}

// stem strips the few English suffixes that matter for billing words
// (plural -s, -ing, -ed, final -e) so "declined", "declines" and "decline"
// meet at "declin". It is deliberately light: over-stemming merges words
// like "charge" and "chart".
func stem(w string) string {
	n := len(w)
	if n > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is") {
		w = w[:n-1]
	}
	switch {
	case len(w) > 5 && strings.HasSuffix(w, "ing"):
		w = undouble(w[:len(w)-3])
	case len(w) > 4 && strings.HasSuffix(w, "ied"):
		w = w[:len(w)-3] + "y"
	case len(w) > 4 && strings.HasSuffix(w, "ed"):
		w = undouble(w[:len(w)-2])
	}
	if len(w) > 4 && strings.HasSuffix(w, "e") {
		w = w[:len(w)-1]
	}
	return w
}

// undouble turns "stopp" (from "stopping") into "stop"; l, s, f and z are
// kept doubled because "bill", "pass", "off" are words in their own right.
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiouylsfz", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}

// editDistanceAtMost1 reports whether a and b differ by at most one
// insertion, deletion, substitution or swap of adjacent letters (the swap
// catches "pasue" and "reciept", the commonest typing slip).
func editDistanceAtMost1(a, b string) bool {
	if a == b {
		return true
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	if la == lb {
		diff := -1
		for i := 0; i < la; i++ {
			if a[i] != b[i] {
				if diff >= 0 {
					// second difference: only an adjacent swap is allowed
					return i == diff+1 && a[diff] == b[i] && a[i] == b[diff] && a[i+1:] == b[i+1:]
				}
				diff = i
			}
		}
		return true
	}
	if la > lb {
		a, b = b, a
	}
	// b is one longer: skip one letter of b.
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return a[i:] == b[i+1:]
}
