package main

import (
	"context"
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
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: matrix-stripe ask [-scenario FILE | -c config.yaml -account ALIAS] -customer cus_… "question"`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" || !strings.HasPrefix(*customer, "cus_") {
		fs.Usage()
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
		opts = bridge.AssistantOptions(cfg)
		data = stripeapi.New(stripeapi.Options{Alias: acct.Alias, Key: acct.APIKey, URL: acct.APIURL, Log: zerolog.Nop()})
	}
	engine := assistant.New(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := engine.Answer(ctx, data, *customer, question)
	if err != nil {
		fmt.Fprintf(stderr, "Failed to answer: %v\n", err)
		return exitStartFailed
	}
	fmt.Fprintf(stdout, "intent:     %s\nconfidence: %.2f\nhandoff:    %t\nreply:\n%s\n", res.Intent, res.Confidence, res.Handoff, res.Reply)
	return exitOK
}
