// Package stripeapi is the bridge's only door to Stripe: one stripe-go v76
// client per configured account, with the backend URL overridable (for the
// fake Stripe and stripe-mock), request contexts, stripe-go's own logging
// routed into zerolog so nothing is printed around it, and an optional
// observer of every HTTP request (the bridge's metrics).
package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// APIVersion is the Stripe API version stripe-go v76 speaks. Webhook endpoints
// must be pinned to it.
const APIVersion = stripe.APIVersion

// Options configure one account's client.
type Options struct {
	// Alias is the account's config alias, for logs.
	Alias string
	// Key is the secret or restricted API key. It is never logged.
	Key string
	// URL overrides Stripe's API base URL; empty means api.stripe.com.
	URL string
	// HTTPClient is optional; a client with a sane timeout is used otherwise.
	HTTPClient *http.Client
	// MaxNetworkRetries is how often stripe-go retries a failed request
	// (idempotently, with its own backoff). Nil keeps stripe-go's default.
	MaxNetworkRetries *int64
	Log               zerolog.Logger
	// Observe, if set, hears about every HTTP request to Stripe (for
	// metrics): its transport is wrapped, so nothing is missed.
	Observe Observer
}

// Client is one account's Stripe API.
type Client struct {
	Alias string
	API   *client.API
	key   string
}

// New builds a client. It does no network I/O.
func New(opts Options) *Client {
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 80 * time.Second}
	}
	if opts.Observe != nil {
		httpClient = observed(httpClient, opts.Observe)
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        httpClient,
		LeveledLogger:     &leveledLogger{log: opts.Log.With().Str("component", "stripe-go").Str("account", opts.Alias).Logger()},
		MaxNetworkRetries: opts.MaxNetworkRetries,
	}
	if opts.URL != "" {
		cfg.URL = stripe.String(opts.URL)
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	}
	return &Client{Alias: opts.Alias, API: client.New(opts.Key, backends), key: opts.Key}
}

// Account retrieves the account that owns the key.
func (c *Client) Account(ctx context.Context) (*stripe.Account, error) {
	acct := &stripe.Account{}
	params := &stripe.AccountParams{Params: stripe.Params{Context: ctx}}
	err := c.API.Accounts.B.Call(http.MethodGet, "/v1/account", c.key, params, acct)
	return acct, err
}

// ErrModeMismatch means the key's mode differs from the configured livemode.
var ErrModeMismatch = errors.New("API key mode does not match the configured livemode")

// Check verifies the key works and is in the expected mode, so that a bad key
// stops the bridge at startup instead of failing every webhook later.
func (c *Client) Check(ctx context.Context, wantLive bool) (*stripe.Account, error) {
	acct, err := c.Account(ctx)
	if err != nil {
		return nil, fmt.Errorf("account %s: %s", c.Alias, Describe(err))
	}
	// The key's own prefix is authoritative for mode; the config check already
	// compared it, but a key from the environment may differ from the file.
	keyLive := len(c.key) > 8 && c.key[3:8] == "live_"
	if keyLive != wantLive {
		return acct, fmt.Errorf("account %s: %w", c.Alias, ErrModeMismatch)
	}
	return acct, nil
}

type leveledLogger struct {
	log zerolog.Logger
}

// stripe-go logs failed requests at error level; they are ours to report, so
// keep them at debug and let callers log errors. Its only Debugf is the whole
// response body ("Response: {...}"), which holds customer data and bearer
// credentials (billing-portal and checkout URLs, client secrets): no level
// may log it, so it is dropped.
func (l *leveledLogger) Debugf(string, ...any)          {}
func (l *leveledLogger) Infof(format string, v ...any)  { l.log.Debug().Msgf(format, v...) }
func (l *leveledLogger) Warnf(format string, v ...any)  { l.log.Debug().Msgf(format, v...) }
func (l *leveledLogger) Errorf(format string, v ...any) { l.log.Debug().Msgf(format, v...) }

func params(ctx context.Context) stripe.Params {
	return stripe.Params{Context: ctx}
}

// Charge retrieves a charge; disputes only name their charge, and the charge
// names the customer.
func (c *Client) Charge(ctx context.Context, id string) (*stripe.Charge, error) {
	return c.API.Charges.Get(id, &stripe.ChargeParams{Params: params(ctx)})
}
