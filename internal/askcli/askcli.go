// Package askcli is the `ask` command: it answers one question from a
// customer's Stripe data exactly as their room would, and prints it. The
// production binary asks a configured account; the demo binary asks the
// fake Stripe, so the fake never links into what self-hosters deploy.
package askcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// Kinds of failure a caller maps to its exit codes (errors.Is); the error
// itself is the one sentence the user reads.
var (
	ErrUsage    = errors.New("usage")
	ErrCustomer = errors.New("customer")
	ErrAnswer   = errors.New("answer")
)

// failure is a sentence for the user, of a kind for the exit code.
type failure struct {
	kind     error
	sentence string
}

func (f *failure) Error() string { return f.sentence }
func (f *failure) Unwrap() error { return f.kind }

func fail(kind error, format string, args ...any) error {
	return &failure{kind: kind, sentence: fmt.Sprintf(format, args...)}
}

// Flags are the question's flags, shared by both binaries' `ask`.
type Flags struct {
	customer, locale *string
	json             *bool
}

// Register adds -customer, -json and -locale to fs.
func Register(fs *flag.FlagSet) *Flags {
	return &Flags{
		customer: fs.String("customer", "", "the customer whose room the question comes from (cus_…)"),
		json:     fs.Bool("json", false, "print {intent, intents, confidence, language, handoff, reply} as JSON"),
		locale:   fs.String("locale", "", "the customer's locale as the web chat would pass it (e.g. pt-BR): a language hint"),
	}
}

// Question checks the flags and the question after them before anything
// is loaded, so a typo costs no Stripe call.
func (f *Flags) Question(args []string) (string, error) {
	question := strings.TrimSpace(strings.Join(args, " "))
	switch {
	case !strings.HasPrefix(*f.customer, "cus_"):
		return "", fail(ErrUsage, "Name the customer whose room the question comes from with -customer cus_….")
	case question == "":
		return "", fail(ErrUsage, "The question is empty: put it after the flags, in quotes.")
	}
	return question, nil
}

// Run answers question for the flags' customer from data and prints the
// result to out.
func (f *Flags) Run(ctx context.Context, engine *assistant.Engine, data assistant.Data, question string, out io.Writer) error {
	customer := *f.customer
	// A room always belongs to a customer that exists; asking for one that
	// does not would only show a lookup failure's handoff.
	switch cus, err := data.Customer(ctx, customer); {
	case stripeapi.IsNotFound(err) || (err == nil && (cus == nil || cus.Deleted)):
		return fail(ErrCustomer, "There is no customer %s in this account.", customer)
	case err != nil:
		return fail(ErrCustomer, "Failed to look up %s: %s.", customer, strings.TrimSuffix(stripeapi.Describe(err), "."))
	}
	res, err := engine.Respond(ctx, data, assistant.Question{Customer: customer, Text: question, Hint: assistant.LangOf(*f.locale)})
	if err != nil {
		return fail(ErrAnswer, "Failed to answer: %v.", err)
	}
	if *f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(Output{Intent: res.Intent, Intents: res.Intents, Confidence: res.Confidence, Language: res.Lang,
			Handoff: res.Handoff, Reply: res.Reply, Offer: res.Offer, Topic: res.Topic})
	}
	fmt.Fprintf(out, "intent:     %s\nintents:    %s\nconfidence: %.2f\nlanguage:   %s\nhandoff:    %t\n",
		res.Intent, joinIntents(res.Intents), res.Confidence, res.Lang, res.Handoff)
	if res.Offer != "" {
		fmt.Fprintf(out, "offer:      %s (a \"yes\" runs it)\n", res.Offer)
	}
	if res.Topic != "" {
		fmt.Fprintf(out, "topic:      %s\n", res.Topic)
	}
	_, err = fmt.Fprintf(out, "reply:\n%s\n", res.Reply)
	return err
}

// Output is ask -json's output; the first six fields are the stable
// contract docs/assistant.md describes.
type Output struct {
	Intent     assistant.Intent   `json:"intent"`
	Intents    []assistant.Intent `json:"intents"`
	Confidence float64            `json:"confidence"`
	Language   assistant.Lang     `json:"language"`
	Handoff    bool               `json:"handoff"`
	Reply      string             `json:"reply"`
	Offer      string             `json:"offer,omitempty"`
	Topic      string             `json:"topic,omitempty"`
}

func joinIntents(in []assistant.Intent) string {
	s := make([]string, len(in))
	for i, x := range in {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
