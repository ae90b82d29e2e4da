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
	"github.com/matrix-stripe/matrix-stripe/internal/askcli"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// runAsk answers a question as the assistant would in a room, from the
// demo's customers (or another scenario) in the fake Stripe, so the
// assistant can be tried without an account or a homeserver.
func runAsk(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("matrix-stripe-demo ask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "a stripefake scenario YAML (default: the demo's customers, e.g. cus_DemoBob)")
	q := askcli.Register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: matrix-stripe-demo ask [-scenario FILE] [-json] [-locale TAG] -customer cus_… "question"`)
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
	fake := stripefake.New(stripefake.Options{})
	if *scenario != "" {
		err = fake.LoadScenarioFile(*scenario)
	} else {
		err = fake.LoadScenario(strings.NewReader(stripefake.DemoScenario))
	}
	if err != nil {
		fmt.Fprintf(stderr, "Failed to load the scenario: %v\n", err)
		return exitUsage
	}
	if err := fake.Start("127.0.0.1:0"); err != nil {
		fmt.Fprintf(stderr, "Failed to start the fake Stripe: %v\n", err)
		return exitFailed
	}
	defer fake.Close()
	data := stripeapi.New(stripeapi.Options{Alias: "demo", Key: fake.APIKey(), URL: fake.URL(), Log: zerolog.Nop()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	engine := assistant.New(assistant.Options{Threshold: assistant.DefaultThreshold, CommandPrefix: "!stripe"})
	if err := q.Run(ctx, engine, data, question, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	return exitOK
}
