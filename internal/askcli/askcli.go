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

// Errors a caller maps to its exit codes; each is wrapped in a sentence
// for the user.
var (
	ErrUsage    = errors.New("usage")
	ErrCustomer = errors.New("customer")
	ErrAnswer   = errors.New("answer")
)

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
		return "", fmt.Errorf("%w: name the customer whose room the question comes from with -customer cus_…", ErrUsage)
	case question == "":
		return "", fmt.Errorf("%w: the question is empty: put it after the flags, in quotes", ErrUsage)
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
		return fmt.Errorf("%w: there is no customer %s in this account", ErrCustomer, customer)
	case err != nil:
		return fmt.Errorf("%w: failed to look up %s: %s", ErrCustomer, customer, stripeapi.Describe(err))
	}
	res, err := engine.Respond(ctx, data, assistant.Question{Customer: customer, Text: question, Hint: assistant.LangOf(*f.locale)})
	if err != nil {
		return fmt.Errorf("%w: failed to answer: %v", ErrAnswer, err)
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

// Sentence is err as the one line a user reads: the error's text without
// the kind, capitalised, with a full stop.
func Sentence(err error) string {
	msg := err.Error()
	for _, kind := range []error{ErrUsage, ErrCustomer, ErrAnswer} {
		msg = strings.TrimPrefix(msg, kind.Error()+": ")
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return strings.TrimSuffix(msg, ".") + "."
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
