// Package assistant answers a customer's plain-language billing questions from that customer's own Stripe data, in the customer's language, and says when a human should take over.
package assistant

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Intent is what a customer's message asks for.
type Intent string

// The intents the engine recognises. Values are stable snake_case strings
// because they appear in the corpus, logs, facts and the ask subcommand's
// output; docs/assistant.md lists them.
const (
	IntentFailedPayment     Intent = "failed_payment"
	IntentPayments          Intent = "payments"
	IntentUnrecognized      Intent = "unrecognized_charge"
	IntentDoubleCharge      Intent = "double_charge"
	IntentNextBill          Intent = "next_bill"
	IntentRefundRequest     Intent = "refund_request"
	IntentRefundStatus      Intent = "refund_status"
	IntentInvoices          Intent = "invoices"
	IntentBalance           Intent = "balance"
	IntentUpdatePayment     Intent = "update_payment"
	IntentCancel            Intent = "cancel"
	IntentChangePlan        Intent = "change_plan"
	IntentPause             Intent = "pause"
	IntentDispute           Intent = "dispute"
	IntentBilledAfterCancel Intent = "billed_after_cancel"
	IntentHuman             Intent = "human"
	IntentGreeting          Intent = "greeting"
	IntentThanks            Intent = "thanks"
	IntentUnknown           Intent = "unknown"
)

// Intents lists every intent, in the documented order.
var Intents = []Intent{IntentFailedPayment, IntentPayments, IntentUnrecognized, IntentDoubleCharge, IntentNextBill,
	IntentRefundRequest, IntentRefundStatus, IntentInvoices, IntentBalance, IntentUpdatePayment, IntentCancel,
	IntentChangePlan, IntentPause, IntentDispute, IntentBilledAfterCancel, IntentHuman, IntentGreeting, IntentThanks,
	IntentUnknown}

// DefaultThreshold is the confidence below which a human takes over. It is
// set so that a single weak cue ("card", "why") never answers on its own,
// while one unambiguous keyword ("refund", "cancel") does.
const DefaultThreshold = 0.55

// maxIntents bounds how many questions one message gets answers to; more
// is a list for a person to go through.
const maxIntents = 3

// refusable intents are requests a customer can turn down in the same
// breath ("I don't want to cancel, just pause"): in a part of the message
// that refuses, their cues count for nothing. The others use negation to
// describe a problem ("it didn't go through", "I don't recognise this").
var refusable = map[Intent]bool{IntentCancel: true, IntentHuman: true, IntentPause: true, IntentChangePlan: true,
	IntentRefundRequest: true, IntentUpdatePayment: true, IntentDispute: true, IntentDoubleCharge: true}

// Options configure an Engine.
type Options struct {
	Threshold     float64     // below it: hand off (default 0.55)
	CommandPrefix string      // e.g. "!stripe", to offer self-service commands in replies
	LLM           *LLMOptions // optional LLM mode; nil keeps the rule engine only
	// SelfService says whether the customer may run a self-service command
	// ("portal", "request-refund", "cancel", "change-plan"); the assistant
	// never offers one that is off, it hands off instead. nil: all are on.
	SelfService func(command string) bool
	// Plans are the price ids a customer may switch to (bridge.plans);
	// change_plan lists them with their prices.
	Plans []string
	// Knowledge answers policy questions the billing data cannot (tax,
	// shipping, terms); nil: those are handed off.
	Knowledge *Knowledge
}

// Engine classifies and answers questions. It holds only compiled,
// read-only tables, so one Engine is safe for concurrent use by every room.
type Engine struct {
	opts     Options
	features []compiled
	vocab    map[string]bool // stems the features use
	vocabOrd []string        // sorted, so typo correction is deterministic
	lex      map[Lang]*compiledLex
	clock    func() time.Time // nil: time.Now; tests pin it
}

// compiled is a feature with its terms already stemmed.
type compiled struct {
	intent  Intent
	terms   []string
	weight  float64
	negated bool // one of the terms is "not"
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
	e := &Engine{opts: opts, vocab: map[string]bool{}, lex: compileLexicons()}
	for _, f := range featureTable() {
		c := compiled{intent: f.intent, weight: f.weight}
		for _, w := range strings.Fields(f.terms) {
			s := stem(w)
			c.terms = append(c.terms, s)
			c.negated = c.negated || s == "not"
			e.vocab[s] = true
		}
		e.features = append(e.features, c)
	}
	for w := range e.vocab {
		e.vocabOrd = append(e.vocabOrd, w)
	}
	sort.Strings(e.vocabOrd)
	return e
}

// Reading is how the engine understood one message.
type Reading struct {
	Intent     Intent   // the main request; IntentUnknown when nothing fits
	Intents    []Intent // every request in the message, Intent first
	Confidence float64  // 0..1, of Intent
	Lang       Lang     // the language the message is written in
	text       *text
}

// Classify returns the most likely intent and a confidence in 0..1. A
// message with no billing cue at all is IntentUnknown with confidence 0.
func (e *Engine) Classify(msg string) (Intent, float64) {
	r := e.Read(msg, "")
	return r.Intent, r.Confidence
}

// Read understands msg; hint is the language the customer's page or
// client says they use ("" when unknown), which decides only when the
// message itself does not.
func (e *Engine) Read(msg string, hint Lang) Reading {
	t := e.analyze(msg, hint)
	r := Reading{Intent: IntentUnknown, Lang: t.lang, text: t}

	total := map[Intent]float64{}
	// Each part's own request, questions first: in a long message the
	// story comes before the question.
	var candidates, told []Intent
	for _, p := range t.parts {
		w := 1.0
		if p.question {
			w = 1.25
		}
		ps := e.score(p)
		for in, s := range ps {
			total[in] += w * s
		}
		if in, s := best(ps, true); s >= 3 && !contains(candidates, in) && !contains(told, in) {
			if p.question {
				candidates = append(candidates, in)
			} else {
				told = append(told, in)
			}
		}
	}
	candidates = append(candidates, told...)
	// Pairs split over two parts ("refund… where is it?") still count,
	// for less.
	if len(t.parts) > 1 {
		for _, f := range e.features {
			if len(f.terms) < 2 || f.weight <= 0 || !allIn(t.all, f.terms) || (refusable[f.intent] && !f.negated && !allIn(t.unrefused, f.terms)) {
				continue
			}
			inPart := false
			for _, p := range t.parts {
				inPart = inPart || allIn(p.stems, f.terms)
			}
			// Being billed after cancelling is told in two halves by
			// nature: "I cancelled, but you charged me".
			if !inPart && f.intent == IntentBilledAfterCancel {
				total[f.intent] += f.weight
			} else if !inPart {
				total[f.intent] += 0.6 * f.weight
			}
		}
	}
	// A greeting or thanks wrapped around a real question is politeness,
	// not the request: "hi, my payment failed" is about the payment.
	if _, s := best(total, true); s >= 2 {
		total[IntentGreeting] *= 0.3
		total[IntentThanks] *= 0.3
	}
	primary, first := best(total, false)
	if first <= 0 {
		return r
	}
	// The requests in the order they were made; the strongest leads only
	// when no part asked for it on its own.
	var intents []Intent
	for _, in := range candidates {
		if len(intents) < maxIntents && (in == primary || (total[in] >= 3 && !polite(in))) {
			intents = append(intents, in)
		}
	}
	if !contains(intents, primary) {
		intents = append([]Intent{primary}, intents...)
		if len(intents) > maxIntents {
			intents = intents[:maxIntents]
		}
	}
	// The runner-up that is not itself one of the requests is what makes
	// the reading doubtful.
	second, strong := 0.0, 0
	for in, s := range total {
		if s >= 3 && !polite(in) {
			strong++
		}
		if !contains(intents, in) && s > second {
			second = s
		}
	}
	primary = intents[0]
	first = total[primary]
	strength := 1 - math.Exp(-first/2)
	margin := (first - second) / first
	conf := round(strength * (0.55 + 0.45*margin))
	// A wall of keywords, or more requests than a reply can take, is not
	// a question to answer with confidence.
	if strong > maxIntents+1 || (strong >= 3 && t.function == 0 && len(t.tokens) >= 3) {
		conf, intents = math.Min(conf, 0.3), intents[:1]
	}
	// A greeting around words the engine could not place is a question it
	// did not understand, not a greeting.
	if polite(primary) && len(t.tokens) > 6 {
		conf = math.Min(conf, 0.4)
	}
	if len(intents) > 1 {
		// Several requests: each was confident in its own part.
		conf = math.Max(conf, round(1-math.Exp(-first/2)))
	}
	r.Intent, r.Intents, r.Confidence = primary, intents, conf
	return r
}

// score sums the features every term of which is in the part; the
// refusable intents count only words no negation refused, and a feature
// naming the negation ("not renew") only words the negation reaches.
func (e *Engine) score(p part) map[Intent]float64 {
	scores := map[Intent]float64{}
	for _, f := range e.features {
		in := p.stems
		switch {
		case f.negated:
			in = p.negated
		case refusable[f.intent]:
			in = p.free
		}
		if allIn(in, f.terms) {
			scores[f.intent] += f.weight
		}
	}
	return scores
}

// best returns the highest-scoring intent, iterating in a fixed order so
// ties resolve the same way every run; substantive leaves out greetings
// and thanks.
func best(scores map[Intent]float64, substantive bool) (Intent, float64) {
	in, top := IntentUnknown, 0.0
	for _, c := range intentOrder() {
		if substantive && polite(c) {
			continue
		}
		if scores[c] > top {
			in, top = c, scores[c]
		}
	}
	return in, top
}

func polite(in Intent) bool { return in == IntentGreeting || in == IntentThanks }

func contains(list []Intent, in Intent) bool {
	for _, x := range list {
		if x == in {
			return true
		}
	}
	return false
}

func round(f float64) float64 { return math.Round(f*100) / 100 }

func allIn(present map[string]bool, terms []string) bool {
	for _, t := range terms {
		if !present[t] {
			return false
		}
	}
	return true
}

// stem strips the few English suffixes that matter for billing words
// (plural -s, -ing, -ed, final -e) so "declined", "declines" and "decline"
// meet at "declin". It is deliberately light: over-stemming merges words
// like "charge" and "chart". Every language's words reach it already
// mapped onto the canonical English ones.
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
