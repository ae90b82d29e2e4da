package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/bridge"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/askcli"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// runAsk lets support teams try the assistant without Matrix: it prints the
// recognised intent, its confidence and the exact reply a room would get,
// from a configured account. (`matrix-stripe-demo ask` answers from the
// demo's fake Stripe.)
func runAsk(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("matrix-stripe ask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("c", "config.yaml", "config file: the account to read and the assistant's settings")
	account := fs.String("account", "", "account alias (default: the first configured)")
	q := askcli.Register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: matrix-stripe ask [-json] [-locale TAG] [-c config.yaml] [-account ALIAS] -customer cus_… "question"`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	question, err := q.Question(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
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
	opts, err := bridge.AssistantOptions(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "Error in config %s: %v\n", *configPath, err)
		return exitConfig
	}
	data := stripeapi.New(stripeapi.Options{Alias: acct.Alias, Key: acct.APIKey, URL: acct.APIURL, Log: zerolog.Nop()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch err := q.Run(ctx, assistant.New(opts), data, question, stdout); {
	case err == nil:
		return exitOK
	case errors.Is(err, askcli.ErrCustomer):
		fmt.Fprintln(stderr, err)
		return exitStripe
	default:
		fmt.Fprintln(stderr, err)
		return exitStartFailed
	}
}
