// Package e2e boots the real peers — Dendrite, stripe-mock or the fake
// Stripe, PostgreSQL or SQLite — and the bridge, and checks behaviour the way
// a user sees it: through Matrix clients.
package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/bridge"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

const password = "correct-horse-battery"

type stack struct {
	cfg    *config.Config
	hs     *testenv.Dendrite
	bridge *bridge.Bridge
	dir    string
	logOut io.Writer // stackOptions.logOut, for startBridge
	// ext is the appservice-extensions front the bridge talks to, when
	// stackOptions.asExtensions asked for one.
	ext *testenv.ASExtensions
	// takeoverEvery, when set, is how often the bridges started from now
	// on try to take the encryption device over.
	takeoverEvery time.Duration
}

type stackOptions struct {
	stripeURL string
	// fake, when set, is the Stripe peer; it gets the bridge's webhook URL.
	fake   *stripefake.Server
	dbType string
	dbURI  string
	// logOut, when set, receives the bridge's log at trace level through the
	// production constructor (config.Logger) instead of the test output.
	logOut io.Writer
	// configure, when set, changes the config before anything starts.
	configure func(cfg *config.Config)
	// asExtensions puts testenv.ASExtensions between the bridge and
	// Dendrite: the homeserver then offers MSC2409/MSC3202/MSC4190 as a
	// Synapse with them enabled does.
	asExtensions bool
}

const webhookSecret = "whsec_test"

// startStack writes a config and registration the way a self-hoster would
// (example config + -g), starts Dendrite with the registration loaded, and
// starts the bridge in-process.
func startStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs Dendrite (run without -short)")
	}
	dir := t.TempDir()
	if opts.fake != nil {
		opts.stripeURL = opts.fake.URL()
	}
	cfg, regPath, err := localstack.Build(localstack.Options{
		Dir:           dir,
		StripeURL:     opts.stripeURL,
		APIKey:        "sk_test_123",
		WebhookSecret: webhookSecret,
		DatabaseType:  opts.dbType,
		DatabaseURI:   opts.dbURI,
		Agents:        []id.UserID{"@agent:localhost"},
		Admins:        []id.UserID{"@admin:localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logging.MinLevel = "debug"
	if opts.configure != nil {
		opts.configure(cfg)
	}
	if opts.fake != nil {
		opts.fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: cfg.AppService.Address + "/stripe/webhook/main", Secret: webhookSecret})
	}
	hs := testenv.DendriteServer(t, testenv.DendriteOptions{AppserviceRegistrations: []string{regPath}})
	cfg.Homeserver.Address = hs.URL

	s := &stack{cfg: cfg, hs: hs, dir: dir, logOut: opts.logOut}
	if opts.asExtensions {
		ext, err := testenv.StartASExtensions(hs.URL, hs.ServerName, cfg.Registration())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ext.Close() })
		s.ext = ext
		cfg.Homeserver.Address = ext.URL
	}
	s.bridge = s.startBridge(t, cfg)
	return s
}

// startBridge starts a bridge process (in-process) on cfg.
func (s *stack) startBridge(t testing.TB, cfg *config.Config) *bridge.Bridge {
	t.Helper()
	level := zerolog.DebugLevel
	if _, bench := t.(*testing.B); bench {
		level = zerolog.WarnLevel
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(level).With().Timestamp().Logger()
	if s.logOut != nil {
		cfg.Logging.MinLevel = "trace"
		log = cfg.Logger(s.logOut)
	}
	br := bridge.New(cfg, log, "e2e")
	br.HomeserverWait = 30 * time.Second
	br.CryptoTakeoverEvery = s.takeoverEvery
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := br.Start(ctx); err != nil {
		t.Fatalf("bridge start: %v", err)
	}
	t.Cleanup(br.Stop)
	return br
}

// secondProcess starts another bridge process on the stack's config and
// database with its own listener, which the homeserver does not know: it
// keeps pushing transactions to the first. It returns that process's
// address.
func (s *stack) secondProcess(t testing.TB) string {
	t.Helper()
	second := onFreePort(t, s.cfg)
	s.startBridge(t, second)
	return second.AppService.Address
}

// onFreePort is a copy of cfg that listens on another free loopback port:
// a second bridge process on the same homeserver and database.
func onFreePort(t testing.TB, cfg *config.Config) *config.Config {
	t.Helper()
	second := *cfg
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	second.AppService.Port = port
	second.AppService.Address = fmt.Sprintf("http://127.0.0.1:%d", port)
	return &second
}

// waitListening waits until n bridge processes LISTEN on channel: a NOTIFY
// before a process listens is lost to it (as to any process still
// starting), so a test of the fan-out waits for it first.
func waitListening(t testing.TB, s *stack, channel string, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d processes listening on %s", n, channel), func() (bool, string) {
		var got int
		err := s.bridge.DB.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %' || $1 || '%'`, channel).Scan(&got)
		return err == nil && got >= n, fmt.Sprint(got, err)
	})
}

// scenarioFake is newFake with a YAML scenario loaded.
func scenarioFake(t testing.TB, scenario string) *stripefake.Server {
	t.Helper()
	fake := newFake(t)
	if err := fake.LoadScenario(strings.NewReader(scenario)); err != nil {
		t.Fatal(err)
	}
	return fake
}

// newFake starts a stateful fake Stripe for the test.
func newFake(t testing.TB) *stripefake.Server {
	t.Helper()
	fake := stripefake.New(stripefake.Options{APIKeys: []string{"sk_test_123"}, Account: stripefake.Account{Name: "Demo Shop"}})
	if err := fake.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	return fake
}

func (s *stack) user(t testing.TB, localpart string) *mautrix.Client {
	t.Helper()
	cli, err := s.hs.RegisterUser(t.Context(), localpart, password, false)
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// waitFor polls until cond holds, failing the test with what it last saw.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
}

// messages returns the room's m.room.message events, oldest first.
func messages(t testing.TB, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	resp, err := cli.Messages(t.Context(), roomID, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatalf("messages: %v", err)
	}
	var out []*event.Event
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		evt := resp.Chunk[i]
		if evt.Type != event.EventMessage {
			continue
		}
		_ = evt.Content.ParseRaw(evt.Type)
		out = append(out, evt)
	}
	return out
}

// waitForReply waits for a message from sender whose body contains want.
func waitForReply(t testing.TB, cli *mautrix.Client, roomID id.RoomID, sender id.UserID, want string) *event.Event {
	t.Helper()
	var found *event.Event
	waitFor(t, 20*time.Second, "a message containing "+want, func() (bool, string) {
		var bodies []string
		for _, evt := range messages(t, cli, roomID) {
			body := evt.Content.AsMessage().Body
			bodies = append(bodies, body)
			if evt.Sender == sender && strings.Contains(body, want) {
				found = evt
				return true, ""
			}
		}
		return false, strings.Join(bodies, " | ")
	})
	return found
}

func membership(t testing.TB, cli *mautrix.Client, roomID id.RoomID, user id.UserID) event.Membership {
	t.Helper()
	var member event.MemberEventContent
	if err := cli.StateEvent(t.Context(), roomID, event.StateMember, user.String(), &member); err != nil {
		return ""
	}
	return member.Membership
}

// openCustomerRoom makes the customer's room through Stripe (a customer
// update → webhook → portal) and joins each client to it once invited.
func openCustomerRoom(t testing.TB, s *stack, fake *stripefake.Server, customerID string, clients ...*mautrix.Client) id.RoomID {
	t.Helper()
	if _, err := fake.Client().Customers.Update(customerID, &stripe.CustomerParams{Description: stripe.String("VIP")}); err != nil {
		t.Fatal(err)
	}
	room := waitPortal(t, s, customerID).RoomID
	for _, cli := range clients {
		joinWhenInvited(t, cli, room)
	}
	return room
}

// joinWhenInvited joins cli to room as soon as its invite is there: the
// bridge invites agents and customers right after it records a room, not in
// the same step.
func joinWhenInvited(t testing.TB, cli *mautrix.Client, room id.RoomID) {
	t.Helper()
	waitFor(t, 20*time.Second, string(cli.UserID)+" invited to "+string(room), func() (bool, string) {
		_, err := cli.JoinRoomByID(t.Context(), room)
		return err == nil, fmt.Sprint(err)
	})
}
