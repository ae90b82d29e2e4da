// Package bridge owns the bridge's lifecycle: it opens the database, builds
// the appservice, checks the homeserver and every Stripe account, registers
// the Matrix event handlers in one place, and shuts everything down in order.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/commands"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/e2ee"
	"github.com/matrix-stripe/matrix-stripe/internal/metrics"
	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
	"github.com/matrix-stripe/matrix-stripe/panel"
	"github.com/matrix-stripe/matrix-stripe/portal"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
	"github.com/matrix-stripe/matrix-stripe/webchat"
	"github.com/matrix-stripe/matrix-stripe/webhook"
)

// Startup errors a caller can tell apart (cmd maps them to exit codes).
var (
	ErrDatabase   = errors.New("database error")
	ErrHomeserver = errors.New("homeserver error")
	ErrStripe     = errors.New("stripe account check failed")
)

// Bridge is one running bridge process.
type Bridge struct {
	Config  *config.Config
	Log     zerolog.Logger
	Version string

	DB       *database.Database
	AS       *appservice.AppService
	Events   *appservice.EventProcessor
	Bot      *appservice.IntentAPI
	Commands *commands.Processor
	Stripe   []*stripeapi.Client
	Portal   *portal.Manager
	// Assistant answers customers' plain-language questions.
	Assistant *assistant.Engine
	// assistLimit bounds how fast one customer gets answers.
	assistLimit *ratelimit.Warner
	Webhook     *webhook.Handler
	// WebChat is nil unless web_chat is enabled.
	WebChat *webchat.Server
	// Panel is nil unless agent_panel is enabled.
	Panel *panel.Server
	// Crypto is the encryption device, or its absence (e2ee.None): every
	// intent is bound to it before it sends.
	Crypto *e2ee.Device
	// CryptoTakeoverEvery is how often a process without the encryption
	// device tries to take it over; zero is e2ee's default. Tests shorten it.
	CryptoTakeoverEvery time.Duration
	// Metrics is nil unless metrics are enabled; recording on nil is a
	// no-op, so callers need not check.
	Metrics       *metrics.Metrics
	metricsServer *metrics.Server
	// ready is what /_matrix/mau/ready answers (ready.go).
	ready readiness

	// HomeserverWait bounds how long Start waits for the homeserver to come up.
	HomeserverWait time.Duration

	startedAt time.Time
	server    *server
	serveDone chan struct{}
	// fatal reports a failure the bridge cannot run on (the listener died):
	// the process must exit rather than keep running deaf.
	fatal    chan error
	stopOnce sync.Once
	// wake tells an idle delivery worker that the inbox has new events.
	wake chan struct{}
	// stopBackground ends the delivery workers and catch-up loop.
	stopBackground context.CancelFunc
	workers        sync.WaitGroup
}

// New builds a bridge from a validated config. It does no I/O.
func New(cfg *config.Config, log zerolog.Logger, version string) *Bridge {
	return &Bridge{Config: cfg, Log: log, Version: version, HomeserverWait: 2 * time.Minute,
		wake: make(chan struct{}, 1), fatal: make(chan error, 1)}
}

// Fatal delivers the first failure after Start that the bridge cannot run
// on; the caller stops the bridge and exits.
func (br *Bridge) Fatal() <-chan error { return br.fatal }

func (br *Bridge) die(err error) {
	select {
	case br.fatal <- err:
	default: // one is enough to stop
	}
}

// Start brings the bridge up. On error, whatever was started is stopped.
func (br *Bridge) Start(ctx context.Context) (err error) {
	br.startedAt = time.Now()
	defer func() {
		if err != nil {
			br.Stop()
		}
	}()
	if err = br.openDatabase(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrDatabase, err)
	}
	// Served from here on, so a start that hangs (a homeserver that does
	// not answer yet) can be watched: ready reads 0 until the end.
	br.initMetrics()
	if err = br.listenMetrics(); err != nil {
		return err
	}
	if err = br.initAppservice(); err != nil {
		return err
	}
	br.initStripe()
	br.initCommands()
	br.initPortal()
	br.initWebhook()
	br.initWebChat()
	br.initPanel()
	opts, err := AssistantOptions(br.Config)
	if err != nil {
		return err
	}
	br.Assistant = assistant.New(opts)
	br.assistLimit = ratelimit.NewWarner(assistantBurst, assistantRefill)

	// Listen before talking to the homeserver: it may send a transaction as
	// soon as the bot registers.
	if err = br.listen(); err != nil {
		return err
	}
	if err = br.checkHomeserver(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrHomeserver, err)
	}
	if err = br.checkStripe(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStripe, err)
	}
	// Before any event is handled or sent: a decrypting handler must be
	// registered, and no intent may send into an encrypted room unbound.
	if err = br.openCrypto(ctx); err != nil {
		return err
	}
	br.setGhostProfiles(ctx)
	br.Events.Start(br.Log.WithContext(context.Background()))
	bgCtx, cancel := context.WithCancel(br.Log.WithContext(context.Background()))
	br.stopBackground = cancel
	br.startDelivery(bgCtx)
	br.workers.Add(1)
	go func() {
		defer br.workers.Done()
		br.inviteLoop(bgCtx)
	}()
	if br.WebChat != nil {
		br.workers.Add(1)
		go func() {
			defer br.workers.Done()
			br.WebChat.Listen(bgCtx, br.Config.Database.URI)
		}()
	}
	if br.Panel != nil {
		br.workers.Add(1)
		go func() {
			defer br.workers.Done()
			br.Panel.Listen(bgCtx, br.Config.Database.URI)
		}()
	}
	br.workers.Add(3)
	go func() {
		defer br.workers.Done()
		br.catchupLoop(bgCtx)
	}()
	go func() {
		defer br.workers.Done()
		br.panelWidgetLoop(bgCtx)
	}()
	go func() {
		defer br.workers.Done()
		br.maintenanceLoop(bgCtx)
	}()
	// The first check runs now, so ready answers from it as soon as Start
	// returns; then every readyEvery.
	br.checkReady(bgCtx)
	br.workers.Add(1)
	go func() {
		defer br.workers.Done()
		br.readyLoop(bgCtx)
	}()
	br.setStarted(true)
	br.AS.Ready = true
	br.Log.Info().Str("bot", br.Bot.UserID.String()).Msg("Bridge started")
	return nil
}

func (br *Bridge) openDatabase(ctx context.Context) error {
	raw, err := dbutil.NewFromConfig("matrix-stripe", br.Config.Database.DBUtil(),
		dbutil.ZeroLogger(br.Log.With().Str("component", "database").Logger()))
	if err != nil {
		return err
	}
	br.DB = database.New(raw)
	return br.DB.Upgrade(ctx)
}

func (br *Bridge) initAppservice() error {
	as, err := appservice.CreateFull(appservice.CreateOpts{
		Registration:     br.Config.Registration(),
		HomeserverDomain: br.Config.Homeserver.Domain,
		HomeserverURL:    br.Config.Homeserver.Address,
		HostConfig: appservice.HostConfig{
			Hostname: br.Config.AppService.Hostname,
			Port:     br.Config.AppService.Port,
		},
		StateStore: br.DB.StateStore,
	})
	if err != nil {
		return fmt.Errorf("failed to create appservice: %w", err)
	}
	as.Log = br.Log.With().Str("component", "appservice").Logger()
	br.AS = as
	br.Bot = as.BotIntent()
	br.Events = appservice.NewEventProcessor(as)
	br.registerEventHandlers()
	return nil
}

func (br *Bridge) initStripe() {
	for _, acct := range br.Config.Stripe.Accounts {
		br.Stripe = append(br.Stripe, stripeapi.New(stripeapi.Options{
			Alias: acct.Alias,
			Key:   acct.APIKey,
			URL:   acct.APIURL,
			Log:   br.Log,
			// Nil when metrics are off.
			Observe: br.stripeObserver(acct.Alias),
		}))
	}
}

func (br *Bridge) initCommands() {
	var panelLink func(ctx context.Context, user id.UserID, room id.RoomID) (string, error)
	var dashboardLink func(ctx context.Context, user id.UserID) (string, error)
	if br.Config.Panel.Enabled {
		panelLink = func(ctx context.Context, user id.UserID, room id.RoomID) (string, error) {
			return br.Panel.IssueLink(ctx, user, room)
		}
		dashboardLink = func(ctx context.Context, user id.UserID) (string, error) {
			return br.Panel.IssueDashboardLink(ctx, user)
		}
	}
	br.Commands = commands.NewProcessor(br.Bot.Client, &commands.Deps{
		Config:           br.Config,
		Version:          br.Version,
		StartedAt:        br.startedAt,
		Role:             br.roleIn,
		IsManagementRoom: br.isManagementRoom,
		Stripe:           br.Stripe,
		Inbox:            br.DB.Event,
		Portal:           br.DB.Portal.GetByRoom,
		API:              br.customerAPI,
		Messages:         br.DB.Message.GetByEventID,
		Audit:            br.DB.Audit,
		OpenRoom:         br.openRoom,
		PanelLink:        panelLink,
		DashboardLink:    dashboardLink,
		Facts:            br.DB.Fact,
		Lock:             br.DB.WithRoomLock,
		Conversations:    br.DB.Portal,
		SetAssistant:     br.DB.Portal.SetAssistantEnabled,
		Actions:          br.DB.PendingAction,
		Processed:        br.DB.Processed,
		EventRedacted:    br.eventRedacted,
		OnCommand:        br.Metrics.Command,
	})
}

// openRoom creates or finds a customer's room and invites user (an agent
// who asked with `open`); an existing membership is not an error.
func (br *Bridge) openRoom(ctx context.Context, alias, customerID string, user id.UserID) (*database.Portal, error) {
	portal, err := br.Portal.EnsurePortal(ctx, alias, customerID, nil)
	if err != nil || user == "" {
		return portal, err
	}
	if err = br.Bot.EnsureInvited(ctx, portal.RoomID, user); err != nil {
		return nil, fmt.Errorf("invite %s: %w", user, err)
	}
	return portal, nil
}

// customerAPI returns the account's Stripe client for customer commands.
func (br *Bridge) customerAPI(alias string) commands.CustomerAPI {
	if client := br.stripeClient(alias); client != nil {
		return client
	}
	return nil
}

// stripeClient is the account's Stripe client, or nil for an unknown alias.
func (br *Bridge) stripeClient(alias string) *stripeapi.Client {
	for _, client := range br.Stripe {
		if client.Alias == alias {
			return client
		}
	}
	return nil
}

func (br *Bridge) initPortal() {
	readers := make(map[string]portal.StripeReader, len(br.Stripe))
	for _, client := range br.Stripe {
		readers[client.Alias] = client
	}
	br.Portal = &portal.Manager{Config: br.Config, DB: br.DB, AS: br.AS, Bot: br.Bot, Stripe: readers, BindIntent: br.bindIntent}
	br.Portal.LimitSends(br.Config.Bridge.DeliveryWorkers)
}

// initWebhook mounts Stripe's webhook endpoint on the appservice listener.
func (br *Bridge) initWebhook() {
	accounts := make([]webhook.Account, 0, len(br.Config.Stripe.Accounts))
	for _, acct := range br.Config.Stripe.Accounts {
		// StripeID stays unset: checkStripe learns it from Stripe once
		// the listener is up, and hands it over then.
		accounts = append(accounts, webhook.Account{Alias: acct.Alias, Secrets: acct.WebhookSecrets, Livemode: acct.Livemode})
	}
	br.Webhook = webhook.NewHandler(webhook.Options{
		Accounts: accounts,
		Inbox:    br.DB.Event,
		Log:      br.Log.With().Str("component", "webhook").Logger(),
		Notify:   br.wakeWorkers,
		// The catch-up resolves with the same one (customerResolver).
		Resolver: br.customerResolver(),
	})
	// Counted here rather than in the webhook package: the answer's status
	// is all the metric needs, and the handler stays free of it.
	br.AS.Router.Handle(br.Webhook.Pattern(), br.Metrics.InstrumentWebhook(br.Webhook))
}

// setGhostProfiles names each account's ghost after the account, so billing
// messages visibly come from "Demo Shop (Stripe)".
func (br *Bridge) setGhostProfiles(ctx context.Context) {
	for _, acct := range br.Config.Stripe.Accounts {
		if err := br.Portal.Ghost(acct.Alias).SetDisplayName(ctx, acct.DisplayName+" (Stripe)"); err != nil {
			br.Log.Warn().Err(err).Str("account", acct.Alias).Msg("Failed to set ghost display name")
		}
	}
}

// listen opens the listener before serving, so a taken port fails Start
// instead of only being logged from a goroutine after Start has returned.
func (br *Bridge) listen() error {
	srv, err := br.newServer()
	if err != nil {
		return fmt.Errorf("appservice HTTP listener on %s: %w", br.AS.Host.Address(), err)
	}
	br.server = srv
	br.serveDone = make(chan struct{})
	go func() {
		defer close(br.serveDone)
		srv.serve(br)
	}()
	br.AS.Live = true
	return nil
}

// checkHomeserver waits for the homeserver, then makes sure the bot exists
// and has its profile. Dendrite has no appservice ping endpoint, so a whoami
// with the as_token is the connectivity check.
func (br *Bridge) checkHomeserver(ctx context.Context) error {
	log := br.Log.With().Str("component", "startup").Logger()
	waitCtx, cancel := context.WithTimeout(ctx, br.HomeserverWait)
	defer cancel()
	for attempt := 0; ; attempt++ {
		versions, err := br.Bot.Client.Versions(waitCtx)
		if err == nil {
			br.AS.SpecVersions = versions
			break
		}
		if waitCtx.Err() != nil {
			return fmt.Errorf("homeserver at %s did not answer: %w", br.Config.Homeserver.Address, err)
		}
		log.Warn().Err(err).Int("attempt", attempt).Msg("Homeserver not reachable yet, retrying")
		select {
		case <-waitCtx.Done():
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 10*time.Second)):
		}
	}
	if err := br.Bot.EnsureRegistered(ctx); err != nil {
		return fmt.Errorf("failed to register the bot user (is registration.yaml loaded by the homeserver?): %w", err)
	}
	whoami, err := br.Bot.Whoami(ctx)
	if err != nil {
		if errors.Is(err, mautrix.MUnknownToken) {
			return fmt.Errorf("the homeserver rejected as_token: regenerate the registration (-g) and reload it on the homeserver: %w", err)
		}
		return fmt.Errorf("whoami failed: %w", err)
	}
	if whoami.UserID != br.Bot.UserID {
		return fmt.Errorf("homeserver says the as_token belongs to %s, expected %s", whoami.UserID, br.Bot.UserID)
	}
	if err = br.updateBotProfile(ctx); err != nil {
		// A profile is cosmetic; the bridge works without it.
		log.Warn().Err(err).Msg("Failed to update bot profile")
	}
	log.Info().Str("homeserver", br.Config.Homeserver.Address).Msg("Homeserver connection works")
	return nil
}

func (br *Bridge) updateBotProfile(ctx context.Context) error {
	bot := br.Config.AppService.Bot
	name := bot.Displayname
	if name == "remove" {
		name = ""
	}
	if err := br.Bot.SetDisplayName(ctx, name); err != nil {
		return fmt.Errorf("displayname: %w", err)
	}
	switch bot.Avatar {
	case "":
		return nil
	case "remove":
		return br.Bot.SetAvatarURL(ctx, id.ContentURI{})
	default:
		uri, err := id.ParseContentURI(bot.Avatar)
		if err != nil {
			return fmt.Errorf("appservice.bot.avatar %q is not an mxc:// URI", bot.Avatar)
		}
		return br.Bot.SetAvatarURL(ctx, uri)
	}
}

func (br *Bridge) checkStripe(ctx context.Context) error {
	for i, client := range br.Stripe {
		acctCfg := &br.Config.Stripe.Accounts[i]
		checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		acct, err := client.Check(checkCtx, acctCfg.Livemode)
		cancel()
		if err != nil {
			return err
		}
		mode := "test"
		if acctCfg.Livemode {
			mode = "live"
		}
		name := acctCfg.DisplayName
		if acct.Settings != nil && acct.Settings.Dashboard != nil && acct.Settings.Dashboard.DisplayName != "" {
			name = acct.Settings.Dashboard.DisplayName
		}
		br.Log.Info().Str("account", acctCfg.Alias).Str("stripe_account_id", acct.ID).
			Str("mode", mode).Str("name", name).Msg("Stripe account ready")
		// Until now the webhook has refused Connect events naming any
		// account, since it could not tell this account's own id apart.
		if err = br.Webhook.SetStripeAccountID(acctCfg.Alias, acct.ID); err != nil {
			return err
		}
		if err = br.DB.Account.Upsert(ctx, &database.Account{
			ID: acctCfg.Alias, StripeID: acct.ID, DisplayName: acctCfg.DisplayName, Livemode: acctCfg.Livemode,
		}); err != nil {
			return fmt.Errorf("%w: %w", ErrDatabase, err)
		}
	}
	return nil
}

// Stop shuts down in reverse order of Start; it is safe to call twice.
func (br *Bridge) Stop() {
	br.stopOnce.Do(func() {
		br.Log.Info().Msg("Stopping bridge")
		br.setStarted(false)
		if br.AS != nil {
			br.AS.Ready, br.AS.Live = false, false
			if br.server != nil {
				br.server.shutdown()
			}
			if br.serveDone != nil {
				<-br.serveDone
			}
		}
		if br.Events != nil {
			br.Events.Stop()
		}
		if br.stopBackground != nil {
			// Workers finish (and record) their current attempt first.
			br.stopBackground()
			br.workers.Wait()
		}
		if br.Crypto != nil {
			br.Crypto.Stop()
		}
		if br.DB != nil {
			if err := br.DB.Close(); err != nil {
				br.Log.Warn().Err(err).Msg("Failed to close database")
			}
		}
		// Last, so a scrape can still see the shutdown.
		br.metricsServer.Close()
	})
}

func (br *Bridge) registerEventHandlers() {
	br.Events.On(event.StateMember, br.handleMember)
	br.Events.On(event.EventMessage, br.handleMessage)
	br.Events.On(event.EventReaction, br.handleReaction)
	br.Events.On(event.EventRedaction, br.handleRedaction)
}
