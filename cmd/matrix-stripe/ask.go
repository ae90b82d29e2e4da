package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/bridge"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
	"github.com/matrix-stripe/matrix-stripe/stripefake"
)

// runAsk lets support teams try the assistant without Matrix: it prints the
// recognised intent, its confidence and the exact reply a room would get,
// from a scenario file (fake Stripe) or a configured account.
func runAsk(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("matrix-stripe ask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "answer from a stripefake scenario YAML instead of a real account")
	configPath := fs.String("c", "config.yaml", "config file (without -scenario: the account to read)")
	account := fs.String("account", "", "account alias (default: the first configured)")
	customer := fs.String("customer", "", "the customer whose room the question comes from (cus_…)")
	asJSON := fs.Bool("json", false, "print {intent, intents, confidence, language, handoff, reply} as JSON")
	locale := fs.String("locale", "", "the customer's locale as the web chat would pass it (e.g. pt-BR): a language hint")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: matrix-stripe ask [-json] [-locale TAG] [-scenario FILE | -c config.yaml -account ALIAS] -customer cus_… "question"`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	switch {
	case !strings.HasPrefix(*customer, "cus_"):
		fmt.Fprintln(stderr, "Name the customer whose room the question comes from with -customer cus_….")
		return exitUsage
	case question == "":
		fmt.Fprintln(stderr, "The question is empty: put it after the flags, in quotes.")
		return exitUsage
	}
	opts := assistant.Options{Threshold: assistant.DefaultThreshold, CommandPrefix: "!stripe"}
	var data assistant.Data
	if *scenario != "" {
		fake := stripefake.New(stripefake.Options{})
		if err := fake.LoadScenarioFile(*scenario); err != nil {
			fmt.Fprintf(stderr, "Failed to load scenario: %v\n", err)
			return exitConfig
		}
		if err := fake.Start("127.0.0.1:0"); err != nil {
			fmt.Fprintf(stderr, "Failed to start the fake Stripe: %v\n", err)
			return exitStartFailed
		}
		defer fake.Close()
		data = stripeapi.New(stripeapi.Options{Alias: "scenario", Key: fake.APIKey(), URL: fake.URL(), Log: zerolog.Nop()})
	} else {
		cfg, err := config.Load(*configPath, false)
		if err != nil {
			fmt.Fprintf(stderr, "Error in config %s: %v\n", *configPath, err)
			return exitConfig
		}
		acct := &cfg.Stripe.Accounts[0]
		if *account != "" {
			if acct = cfg.Account(*account); acct == nil {
				fmt.Fprintf(stderr, "No account %q in %s\n", *account, *configPath)
				return exitConfig
			}
		}
		if opts, err = bridge.AssistantOptions(cfg); err != nil {
			fmt.Fprintf(stderr, "Error in config %s: %v\n", *configPath, err)
			return exitConfig
		}
		data = stripeapi.New(stripeapi.Options{Alias: acct.Alias, Key: acct.APIKey, URL: acct.APIURL, Log: zerolog.Nop()})
	}
	engine := assistant.New(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A room always belongs to a customer that exists; asking for one that
	// does not would only show a lookup failure's handoff.
	switch cus, err := data.Customer(ctx, *customer); {
	case stripeapi.IsNotFound(err) || (err == nil && (cus == nil || cus.Deleted)):
		fmt.Fprintf(stderr, "There is no customer %s in this account.\n", *customer)
		return exitStripe
	case err != nil:
		fmt.Fprintf(stderr, "Failed to look up %s: %s\n", *customer, stripeapi.Describe(err))
		return exitStripe
	}
	res, err := engine.Respond(ctx, data, assistant.Question{Customer: *customer, Text: question, Hint: assistant.LangOf(*locale)})
	if err != nil {
		fmt.Fprintf(stderr, "Failed to answer: %v\n", err)
		return exitStartFailed
	}
	if *asJSON {
		out := askJSON{Intent: res.Intent, Intents: res.Intents, Confidence: res.Confidence, Language: res.Lang,
			Handoff: res.Handoff, Reply: res.Reply, Offer: res.Offer, Topic: res.Topic}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return exitStartFailed
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "intent:     %s\nintents:    %s\nconfidence: %.2f\nlanguage:   %s\nhandoff:    %t\n",
		res.Intent, joinIntents(res.Intents), res.Confidence, res.Lang, res.Handoff)
	if res.Offer != "" {
		fmt.Fprintf(stdout, "offer:      %s (a \"yes\" runs it)\n", res.Offer)
	}
	if res.Topic != "" {
		fmt.Fprintf(stdout, "topic:      %s\n", res.Topic)
	}
	fmt.Fprintf(stdout, "reply:\n%s\n", res.Reply)
	return exitOK
}

// askJSON is ask -json's output; the first six fields are the stable
// contract docs/assistant.md describes.
type askJSON struct {
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
