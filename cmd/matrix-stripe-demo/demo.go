package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/bridge"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
	"github.com/matrix-stripe/matrix-stripe/internal/logredact"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

const (
	// apiKey is printed in the curl examples, so it is short and fixed
	// rather than random; it only ever unlocks the fake on loopback.
	apiKey      = "sk_test_demo"
	password    = "demo-password"
	accountName = "Demo Shop"
	serverName  = "localhost"
	// dendriteLogName is where testenv writes Dendrite's output inside the
	// data folder; a failed start needs the path before a Dendrite value exists.
	dendriteLogName = "dendrite.log"
	// toolsNoticeDelay waits this long before telling the user that the peers are
	// being built, so an up-to-date .tools/bin stays silent.
	toolsNoticeDelay = time.Second
)

// demoUser is one of the Matrix accounts setup registers.
type demoUser struct {
	localpart string
	role      string // for the printed logins
	admin     bool   // a Dendrite server admin
}

// demoUsers are the demo's Matrix accounts, in the order they are printed.
// demoWebChatCustomer is the scenario's customer the sample billing page
// signs in to the web chat: Bob, whose renewal payment failed, so "why did
// my payment fail?" has an answer. He has no Matrix login: the web chat is
// how he talks to support.
const (
	demoWebChatCustomer = "cus_DemoBob"
	demoWebChatName     = "Bob Chen"
)

func demoUsers() []demoUser {
	return []demoUser{
		{"agent", "support agent", false},
		{"alice", "customer Alice Martin", false},
		{"admin", "bridge admin", true},
	}
}

// options configure setup. The zero value runs everything on free ports,
// quietly, in a folder under os.TempDir.
type options struct {
	// HomeserverPort and StripePort are loopback ports; 0 picks a free one.
	HomeserverPort int
	StripePort     int
	// TempParent is where the demo's folder is made (default os.TempDir).
	TempParent string
	// Keep leaves the folder in place after Close, for inspecting the
	// databases and Dendrite's log.
	Keep bool
	// Verbose logs at debug level, the fake Stripe's requests included.
	Verbose bool
	// Encryption creates the customer rooms encrypted, with the bridge's
	// encryption device (docs/encryption.md).
	Encryption bool
	// Log receives the bridge's and the fake's logs (default: discarded).
	Log io.Writer
	// Progress receives one line per startup step (default: discarded).
	Progress io.Writer
}

// demo is a running stack: Dendrite, the fake Stripe and the bridge, all
// of it inside Dir.
type demo struct {
	Dir        string
	Config     *config.Config
	Homeserver *testenv.Dendrite
	Stripe     *stripefake.Server
	Bridge     *bridge.Bridge
	// Billing is the sample merchant page with the web chat, signed in as
	// Bob.
	Billing *billingPage

	keep bool
}

// startError is a setup failure. It remembers Dendrite's log, which setup
// keeps on disk so the user can read why the homeserver misbehaved.
type startError struct {
	step        string
	err         error
	dendriteLog string // "" when Dendrite never ran
}

func (e *startError) Error() string { return e.step + ": " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// setup brings the whole demo up. On failure it stops whatever it started
// and removes its folder, unless Dendrite ran: then the folder stays so that
// Dendrite's log (named in the error) can still be read.
func setup(ctx context.Context, opts options) (_ *demo, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	d := &demo{keep: opts.Keep}
	dendriteDir := ""
	step := func(name string, stepErr error) error {
		if stepErr == nil {
			return nil
		}
		e := &startError{step: name, err: stepErr}
		if dendriteDir != "" {
			if logPath := filepath.Join(dendriteDir, dendriteLogName); fileExists(logPath) {
				e.dendriteLog = logPath
			}
		}
		return e
	}
	defer func() {
		if err == nil {
			return
		}
		// An interrupted start is no failure to investigate, so nothing
		// is left behind then.
		var se *startError
		if errors.As(err, &se) && se.dendriteLog != "" && ctx.Err() == nil {
			d.keep = true
		}
		// The setup error is what the user needs; a shutdown error on top
		// of it would only bury it.
		_ = d.Close()
	}()

	// A taken port is the likeliest mistake, and cheap to catch before
	// anything has started.
	if opts.HomeserverPort != 0 && !portFree(opts.HomeserverPort) {
		return nil, step("starting Dendrite", fmt.Errorf("port %d is already in use (choose another with -port)", opts.HomeserverPort))
	}
	if err = step("installing the test peers", ensureTools(ctx, opts.Progress)); err != nil {
		return nil, err
	}
	if d.Dir, err = os.MkdirTemp(opts.TempParent, "matrix-stripe-demo-"); err != nil {
		return nil, step("creating the demo folder", err)
	}
	bridgeDir := filepath.Join(d.Dir, "bridge")
	if err = os.Mkdir(bridgeDir, 0o700); err != nil {
		return nil, step("creating the demo folder", err)
	}

	webhookSecret, err := randomSecret()
	if err != nil {
		return nil, step("making a webhook secret", err)
	}
	cfg, regPath, err := localstack.Build(localstack.Options{
		Dir:           bridgeDir,
		ServerName:    serverName,
		APIKey:        apiKey,
		WebhookSecret: webhookSecret,
		Agents:        []id.UserID{id.NewUserID("agent", serverName)},
		Admins:        []id.UserID{id.NewUserID("admin", serverName)},
	})
	if err != nil {
		return nil, step("writing the bridge config", err)
	}
	d.Config = cfg
	if opts.Encryption {
		pickle, err := randomSecret()
		if err != nil {
			return nil, step("making the encryption pickle key", err)
		}
		cfg.Encryption = config.EncryptionConfig{Allow: true, Default: true, PickleKey: pickle}
	}
	acct := &cfg.Stripe.Accounts[0]
	acct.DisplayName = accountName
	bridgeLog, fakeLog := loggers(opts, cfg.Secrets())

	fakeAccountID, err := scenarioAccountID(stripefake.DemoScenario)
	if err != nil {
		return nil, step("reading the demo scenario", err)
	}
	d.Stripe = stripefake.New(stripefake.Options{
		APIKeys: []string{apiKey},
		// The scenario sets this id when it loads; the fake must already
		// use it when the bridge checks the key and records the account,
		// or the account would change its id under the bridge.
		Account: stripefake.Account{ID: fakeAccountID, Name: accountName},
		Webhooks: []stripefake.WebhookEndpoint{{
			URL:    cfg.AppService.Address + "/stripe/webhook/" + acct.Alias,
			Secret: webhookSecret,
		}},
		EmitSeedEvents: true,
		Logger:         &fakeLog,
	})
	if err = step("starting the fake Stripe", d.Stripe.Start(loopback(opts.StripePort))); err != nil {
		return nil, err
	}
	acct.APIURL = d.Stripe.URL()
	fmt.Fprintf(opts.Progress, "Fake Stripe listening on %s\n", d.Stripe.URL())

	dendriteDir = filepath.Join(d.Dir, "dendrite")
	fmt.Fprintf(opts.Progress, "Starting Dendrite (log: %s)\n", filepath.Join(dendriteDir, dendriteLogName))
	d.Homeserver, err = testenv.StartDendrite(ctx, testenv.DendriteOptions{
		Dir:                     dendriteDir,
		ServerName:              serverName,
		Port:                    opts.HomeserverPort,
		AppserviceRegistrations: []string{regPath},
	})
	if err != nil {
		return nil, step("starting Dendrite", err)
	}
	cfg.Homeserver.Address = d.Homeserver.URL

	for _, u := range demoUsers() {
		if _, err = d.Homeserver.RegisterUser(ctx, u.localpart, password, u.admin); err != nil {
			return nil, step("registering the demo users", err)
		}
	}

	// The sample merchant page, and the web chat it embeds for Bob.
	chatSecret, err := randomSecret()
	if err != nil {
		return nil, step("making a web chat secret", err)
	}
	d.Billing = &billingPage{bridgeURL: cfg.AppService.Address, account: acct.Alias, customerID: demoWebChatCustomer,
		name: demoWebChatName, secret: []byte(chatSecret)}
	pageURL, err := d.Billing.listen()
	if err != nil {
		return nil, step("starting the sample billing page", err)
	}
	cfg.WebChat.Enabled = true
	cfg.WebChat.Accounts = map[string]*config.WebChatAccount{acct.Alias: {
		IdentitySecret: chatSecret, AllowedOrigins: []string{pageURL},
		Title: accountName + " support", Greeting: "Hi! Ask about your bill here; an agent answers when the assistant can't.",
		AccentColor: "#635bff",
	}}

	// The agent panel, at the bridge's own listener: Element on this machine
	// reaches it there.
	cfg.Panel.Enabled = true
	cfg.Panel.PublicURL = cfg.AppService.Address

	fmt.Fprintln(opts.Progress, "Starting the bridge")
	d.Bridge = bridge.New(cfg, bridgeLog, "demo")
	// Dendrite already answers, so a long wait would only hide a real problem.
	d.Bridge.HomeserverWait = 30 * time.Second
	if err = d.Bridge.Start(ctx); err != nil {
		return nil, step("starting the bridge", err)
	}

	// Only now: loading emits the scenario's history as webhooks, and the
	// bridge has to be listening for them.
	fmt.Fprintln(opts.Progress, "Loading the demo customers into the fake Stripe")
	if err = d.Stripe.LoadScenario(strings.NewReader(stripefake.DemoScenario)); err != nil {
		return nil, step("loading the demo scenario", err)
	}
	return d, nil
}

// Close stops the fake Stripe, the bridge and Dendrite, and removes the folder
// unless it is kept. It is safe on a partly started demo and safe to call
// twice.
func (d *demo) Close() error {
	var errs []error
	// The fake first: it would otherwise keep retrying webhooks against a
	// bridge that has gone, filling the log at the very end.
	if d.Stripe != nil {
		if err := d.Stripe.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the fake Stripe: %w", err))
		}
	}
	if d.Billing != nil {
		_ = d.Billing.Close()
	}
	if d.Bridge != nil {
		d.Bridge.Stop()
	}
	if d.Homeserver != nil {
		if err := d.Homeserver.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stopping Dendrite: %w", err))
		}
	}
	if d.Dir != "" && !d.keep {
		if err := os.RemoveAll(d.Dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// ensureTools installs the pinned Dendrite and stripe-mock if needed. The
// install runs silently, so a slow run (the first one builds Dendrite from
// source) gets a notice instead of looking hung.
func ensureTools(ctx context.Context, progress io.Writer) error {
	notice := time.AfterFunc(toolsNoticeDelay, func() {
		fmt.Fprintln(progress, "Building the pinned Dendrite and stripe-mock into .tools/bin with go install.")
		fmt.Fprintln(progress, "This happens on the first run only and takes a few minutes...")
	})
	defer notice.Stop()
	return testenv.EnsureTools(ctx)
}

// loggers returns the bridge's logger and the fake's, which is quieter:
// its per-request lines are only useful when debugging. Both go through the
// redacting writer the real bridge uses: with -v the bridge logs message
// bodies, billing-portal links included.
func loggers(opts options, secrets []string) (bridgeLog, fakeLog zerolog.Logger) {
	w := zerolog.ConsoleWriter{Out: logredact.New(opts.Log, secrets...), TimeFormat: "15:04:05", NoColor: !isTerminal(opts.Log)}
	root := zerolog.New(w).With().Timestamp().Logger()
	if opts.Verbose {
		return root.Level(zerolog.DebugLevel), root.Level(zerolog.DebugLevel)
	}
	return root.Level(zerolog.InfoLevel), root.Level(zerolog.WarnLevel)
}

// scenarioAccountID reads account.id from a scenario, so the demo follows
// the scenario file instead of repeating its id.
func scenarioAccountID(scenario string) (string, error) {
	var sc struct {
		Account struct {
			ID string `yaml:"id"`
		} `yaml:"account"`
	}
	if err := yaml.Unmarshal([]byte(scenario), &sc); err != nil {
		return "", err
	}
	return sc.Account.ID, nil
}

func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("whsec_demo%x", b), nil
}

func loopback(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// portFree reports whether a loopback port can be bound right now. Another
// process may take it before the peer binds it; the peer then fails with a
// bind error, which is rare enough on a workstation.
func portFree(port int) bool {
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// preferredPort is port if it is free, else 0 (any free port).
func preferredPort(port int) int {
	if portFree(port) {
		return port
	}
	return 0
}

// isTerminal decides whether log lines get colours.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
