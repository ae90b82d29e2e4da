// Command stripefake runs the in-memory fake Stripe API on its own, seeded
// from a scenario, for the demo and for trying the bridge without Stripe.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("stripefake", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:12111", "address to listen on")
	scenario := fs.String("scenario", "", "YAML scenario to seed from (default: the embedded demo; \"none\" for empty)")
	apiKey := fs.String("api-key", "", "the only accepted API key (default: any sk_/rk_ key)")
	webhookURL := fs.String("webhook-url", "", "endpoint to POST events to")
	webhookSecret := fs.String("webhook-secret", "", "whsec_ secret to sign webhooks with (default: generated and printed)")
	emitSeed := fs.Bool("emit-seed-events", false, "also deliver the scenario's history to the webhook endpoint")
	logLevel := fs.String("log-level", "info", "zerolog level (debug, info, warn, error)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid -log-level %q: %v\n", *logLevel, err)
		return 2
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339}).
		Level(level).With().Timestamp().Logger()

	opts := stripefake.Options{Logger: &log, EmitSeedEvents: *emitSeed}
	if *apiKey != "" {
		opts.APIKeys = []string{*apiKey}
	}
	srv := stripefake.New(opts)
	secret := ""
	if *webhookURL != "" {
		_, secret = srv.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: *webhookURL, Secret: *webhookSecret})
	}
	if err := seed(srv, *scenario); err != nil {
		log.Error().Err(err).Msg("Loading the scenario failed")
		return 1
	}
	if err := srv.Start(*listen); err != nil {
		log.Error().Err(err).Str("listen", *listen).Msg("Listening failed")
		return 1
	}
	fmt.Printf("stripefake listening on http://%s\n", *listen)
	if *webhookURL != "" && *webhookSecret == "" {
		// A generated secret is useless unless the receiver is told it.
		fmt.Printf("webhook secret for %s: %s\n", *webhookURL, secret)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info().Msg("Shutting down")
	if err := srv.Close(); err != nil {
		log.Error().Err(err).Msg("Shutdown was not clean")
		return 1
	}
	return 0
}

func seed(srv *stripefake.Server, scenario string) error {
	switch scenario {
	case "none":
		return nil
	case "":
		return srv.LoadScenario(strings.NewReader(stripefake.DemoScenario))
	}
	return srv.LoadScenarioFile(scenario)
}
