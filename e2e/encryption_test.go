package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/bridge"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/e2ee"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/metrics/metricstest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

const encryptionScenario = `
account: {id: acct_1Encrypted, name: Demo Shop}
customers:
  - id: cus_alice
    name: Alice Example
    email: alice@example.com
    metadata: {matrix_user_id: "@alice:localhost"}
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_alice_paid, description: Consulting, amount: 5000, age: 3d, status: paid}
      - {id: in_alice_open, description: Support plan, amount: 2500, age: 1d, status: open}
`

// cryptoUser is a Matrix client with encryption, standing in for Element:
// it syncs, decrypts what it receives and encrypts what it sends.
type cryptoUser struct {
	cli *mautrix.Client

	mu        sync.Mutex
	decrypted []*event.Event
}

func newCryptoUser(t *testing.T, s *stack, localpart string) *cryptoUser {
	t.Helper()
	cli := s.user(t, localpart)
	helper, err := cryptohelper.NewCryptoHelper(cli, []byte("pickle key of "+localpart), filepath.Join(t.TempDir(), "crypto.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Init(t.Context()); err != nil {
		t.Fatalf("init crypto for %s: %v", localpart, err)
	}
	cli.Crypto = helper
	u := &cryptoUser{cli: cli}
	cli.Syncer.(*mautrix.DefaultSyncer).OnEventType(event.EventMessage, func(_ context.Context, evt *event.Event) {
		if evt.Mautrix.EventSource&event.SourceDecrypted != 0 {
			u.mu.Lock()
			u.decrypted = append(u.decrypted, evt)
			u.mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cli.SyncWithContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = helper.Close()
	})
	return u
}

// waitDecrypted waits for a decrypted message from sender containing want.
func (u *cryptoUser) waitDecrypted(t *testing.T, sender id.UserID, want string) *event.Event {
	t.Helper()
	var found *event.Event
	waitFor(t, 30*time.Second, "a decrypted message containing "+want, func() (bool, string) {
		u.mu.Lock()
		defer u.mu.Unlock()
		var bodies []string
		for _, evt := range u.decrypted {
			body := evt.Content.AsMessage().Body
			bodies = append(bodies, string(evt.Sender)+": "+body)
			if evt.Sender == sender && strings.Contains(body, want) {
				found = evt
				return true, ""
			}
		}
		return false, strings.Join(bodies, " | ")
	})
	return found
}

// waitRoomReady waits until the client's sync has shown it the room as
// encrypted with the bot joined: a message sent before that is encrypted
// for the sender's own devices only, as in any client that has not synced
// the room's members yet.
func (u *cryptoUser) waitRoomReady(t *testing.T, room id.RoomID, bot id.UserID) {
	t.Helper()
	waitFor(t, 20*time.Second, string(u.cli.UserID)+"'s client to see the room encrypted and the bot in it", func() (bool, string) {
		encrypted, _ := u.cli.StateStore.IsEncrypted(t.Context(), room)
		joined := u.cli.StateStore.IsInRoom(t.Context(), room, bot)
		return encrypted && joined, fmt.Sprint("encrypted ", encrypted, ", bot joined ", joined)
	})
}

func encryptedConfig(cfg *config.Config) {
	cfg.Encryption = config.EncryptionConfig{Allow: true, Default: true, PickleKey: "a pickle key for the e2e tests"}
}

// In an encrypted customer room the customer's encrypted command is
// answered, the bot's and the billing ghost's messages decrypt on the
// customer's side, and the homeserver — as a client without keys sees it —
// holds only ciphertext.
func TestEncryptedCustomerRoom(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, configure: encryptedConfig})
	bot, ghost := s.cfg.BotMXID(), s.cfg.GhostMXID("main")
	alice := newCryptoUser(t, s, "alice")
	agent := s.user(t, "agent") // no crypto: sees what the server stores

	room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli, agent)
	var enc event.EncryptionEventContent
	if err := agent.StateEvent(t.Context(), room, event.StateEncryption, "", &enc); err != nil || enc.Algorithm != id.AlgorithmMegolmV1 {
		t.Fatalf("the customer room is not encrypted: %v %+v", err, enc)
	}
	// Alice's client must know the room's members and encryption before it
	// encrypts for them.
	alice.waitRoomReady(t, room, bot)

	// First, while alice's client has no session in the room yet: a
	// message whose room key reaches the bridge only after the message.
	t.Run("a message that arrives before its key", func(t *testing.T) {
		mach := alice.cli.Crypto.(*cryptohelper.CryptoHelper).Machine()
		// A session shared with alice's own devices only, as a client whose
		// to-device key share to the bot is still on its way.
		if err := mach.ShareGroupSession(t.Context(), room, []id.UserID{alice.cli.UserID}); err != nil {
			t.Fatal(err)
		}
		// The key as the share would have carried it: before the message.
		session, err := mach.CryptoStore.GetOutboundGroupSession(t.Context(), room)
		if err != nil || session == nil {
			t.Fatalf("alice's outbound session: %v", err)
		}
		roomKey := session.ShareContent()
		encrypted, err := mach.EncryptMegolmEvent(t.Context(), room, event.EventMessage,
			&event.MessageEventContent{MsgType: event.MsgText, Body: "!stripe invoices"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.cli.SendMessageEvent(t.Context(), room, event.EventEncrypted, encrypted); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // the bridge has the message and waits for its key
		botDevice, err := mach.GetOrFetchDevice(t.Context(), bot, s.bridge.Crypto.DeviceID())
		if err != nil || botDevice == nil {
			t.Fatalf("the bot's device: %v", err)
		}
		if err := mach.SendEncryptedToDevice(t.Context(), botDevice, event.ToDeviceRoomKey, roomKey); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, bot, "in_alice")
		alice.mu.Lock()
		defer alice.mu.Unlock()
		for _, evt := range alice.decrypted {
			if strings.Contains(evt.Content.AsMessage().Body, "could not decrypt") {
				t.Errorf("reported undecryptable although its key came: %q", evt.Content.AsMessage().Body)
			}
		}
	})

	t.Run("an encrypted command is answered, encrypted", func(t *testing.T) {
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe help"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, bot, "!stripe")
	})

	t.Run("a billing event from the ghost decrypts", func(t *testing.T) {
		if err := fake.PayInvoice("in_alice_open"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, ghost, "25.00")
	})

	t.Run("the server holds only ciphertext", func(t *testing.T) {
		resp, err := agent.Messages(t.Context(), room, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		encrypted := 0
		for _, evt := range resp.Chunk {
			switch evt.Type {
			case event.EventMessage:
				t.Errorf("a plaintext message in the encrypted room from %s", evt.Sender)
			case event.EventEncrypted:
				encrypted++
			}
		}
		if encrypted < 3 {
			t.Errorf("only %d encrypted events in the room", encrypted)
		}
	})
}

// On PostgreSQL: a second process on the same database does not get the
// device (it refuses encrypted rooms rather than send plaintext), a restart
// keeps the device and its sessions, a room that turns encrypted later is
// written to encrypted from then on, an agent who joins later reads what
// is sent after, and a message whose keys never come is reported.
func TestEncryptionLifecycle(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t), configure: func(cfg *config.Config) {
		encryptedConfig(cfg)
		cfg.Encryption.Default = false // rooms start plain; the test turns one encrypted
	}})
	bot := s.cfg.BotMXID()
	device := s.bridge.Crypto.DeviceID()
	if device == "" {
		t.Fatal("the bridge has no encryption device")
	}
	alice := newCryptoUser(t, s, "alice")
	room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli)
	// The restarted bridge belongs to the whole test, not to a subtest,
	// whose end would stop it.
	whole := t

	t.Run("a second process does not hold the device", func(t *testing.T) {
		second := s.startBridge(t, onFreePort(t, s.cfg))
		if got := second.Crypto.DeviceID(); got != "" {
			t.Fatalf("the second process has device %s too", got)
		}
		second.Stop()
	})

	t.Run("a room that turns encrypted later", func(t *testing.T) {
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe help"); err != nil {
			t.Fatal(err)
		}
		waitForReply(t, alice.cli, room, bot, "!stripe") // plaintext while the room is
		if _, err := s.bridge.Bot.SendStateEvent(t.Context(), room, event.StateEncryption, "",
			&event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "both sides to see the room encrypted", func() (bool, string) {
			a, _ := alice.cli.StateStore.IsEncrypted(t.Context(), room)
			b, _ := s.bridge.DB.StateStore.IsEncrypted(t.Context(), room)
			return a && b, fmt.Sprint(a, b)
		})
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe invoices"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, bot, "in_alice")
	})

	t.Run("a second process refuses the encrypted room, never plaintext", func(t *testing.T) {
		second := s.startBridge(t, onFreePort(t, s.cfg))
		defer second.Stop()
		_, err := second.Bot.SendText(t.Context(), room, "from the process without the device")
		if !errors.Is(err, e2ee.ErrNoDevice) {
			t.Fatalf("send from the second process: %v, want ErrNoDevice", err)
		}
		for _, evt := range messages(t, alice.cli, room) {
			if strings.Contains(evt.Content.AsMessage().Body, "without the device") {
				t.Errorf("the refused message reached the room as %s", evt.Type)
			}
		}
	})

	t.Run("the device survives a restart", func(t *testing.T) {
		s.bridge.Stop()
		s.bridge = s.startBridge(whole, s.cfg)
		if got := s.bridge.Crypto.DeviceID(); got != device {
			t.Fatalf("device %s after the restart, want %s", got, device)
		}
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe balance"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, bot, "balance")
	})

	t.Run("an agent who joins later reads what comes after", func(t *testing.T) {
		agent := newCryptoUser(whole, s, "agent")
		if _, err := s.bridge.Bot.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: agent.cli.UserID}); err != nil {
			t.Fatal(err)
		}
		joinWhenInvited(t, agent.cli, room)
		waitFor(t, 20*time.Second, "the bridge to see the agent joined", func() (bool, string) {
			m, _ := s.bridge.DB.StateStore.GetMembership(t.Context(), room, agent.cli.UserID)
			return m == event.MembershipJoin, string(m)
		})
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe help"); err != nil {
			t.Fatal(err)
		}
		agent.waitDecrypted(t, bot, "!stripe")
	})

	t.Run("a message whose keys never come is reported", func(t *testing.T) {
		// An encrypted event for a session nobody shared, as a client whose
		// key share was lost would leave it.
		plain := s.user(t, "mallory")
		if _, err := s.bridge.Bot.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: plain.UserID}); err != nil {
			t.Fatal(err)
		}
		joinWhenInvited(t, plain, room)
		_, err := plain.SendMessageEvent(t.Context(), room, event.EventEncrypted, map[string]any{
			"algorithm":  id.AlgorithmMegolmV1,
			"sender_key": "bm90IGEgcmVhbCBrZXkgYnV0IGxvbmcgZW5vdWdoIGJhc2U2NA",
			"session_id": "bm8gc3VjaCBzZXNzaW9uIGV4aXN0cyBhbnl3aGVyZSBhdCBhbGw",
			"device_id":  "NOSUCHDEVICE",
			"ciphertext": "AwgAEnB0aGlzIGlzIG5vdCBhIHJlYWwgbWVnb2xtIG1lc3NhZ2U",
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "the bridge to report it", func() (bool, string) {
			alice.mu.Lock()
			defer alice.mu.Unlock()
			for _, evt := range alice.decrypted {
				if evt.Sender == bot && strings.Contains(evt.Content.AsMessage().Body, "could not decrypt a message from "+string(plain.UserID)) {
					return true, ""
				}
			}
			return false, ""
		})
	})
}

// Cross-signing through the admin-password path, as on Dendrite: the first
// start cannot upload keys (no password: the bridge runs on unsigned and
// says why), the operator sets the bot's password with the admin API, and
// the next start generates the keys, signs the device and keeps the
// recovery key in the database, encrypted; a third start only checks. The
// customer's client sees the device cross-signed by its owner.
func TestEncryptionSelfSign(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, configure: func(cfg *config.Config) {
		encryptedConfig(cfg)
		cfg.Encryption.SelfSign = true
	}})
	bot, device := s.cfg.BotMXID(), s.bridge.Crypto.DeviceID()
	if signed, err := s.bridge.Crypto.CrossSigned(t.Context()); err != nil || signed {
		t.Fatalf("signed without a password: %v %v", signed, err)
	}

	const password = "the bot's password, set by the admin"
	admin, err := s.hs.RegisterUser(t.Context(), "hsadmin", "hsadmin password", true) // the homeserver's admin
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.MakeRequest(t.Context(), http.MethodPost,
		admin.BuildURL(mautrix.BaseURLPath{"_dendrite", "admin", "resetPassword", bot.String()}),
		map[string]any{"password": password, "logout_devices": false}, nil)
	if err != nil {
		t.Fatalf("reset the bot's password: %v %s", err, resp)
	}
	s.bridge.Stop()
	s.cfg.Encryption.BotPassword = password
	s.bridge = s.startBridge(t, s.cfg)
	if got := s.bridge.Crypto.DeviceID(); got != device {
		t.Fatalf("device %s after the restart, want %s", got, device)
	}
	if signed, err := s.bridge.Crypto.CrossSigned(t.Context()); err != nil || !signed {
		t.Fatalf("not signed with the password: %v %v", signed, err)
	}
	var stored string
	if err := s.bridge.DB.QueryRow(t.Context(), `SELECT value FROM bridge_secret WHERE name='recovery_key'`).Scan(&stored); err != nil {
		t.Fatalf("no recovery key stored: %v", err)
	}
	// A recovery key is groups of four base58 characters: stored, it is
	// one unbroken pickle.
	if strings.Contains(stored, " ") {
		t.Errorf("the recovery key is stored in the clear: %q", stored)
	}
	masterKeys := func() string {
		keys, err := admin.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{bot: mautrix.DeviceIDList{}}})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(keys.MasterKeys[bot])
	}
	master := masterKeys()

	alice := newCryptoUser(t, s, "alice")
	mach := alice.cli.Crypto.(*cryptohelper.CryptoHelper).Machine()
	devices, err := mach.FetchKeys(t.Context(), []id.UserID{bot}, true)
	if err != nil || devices[bot][device] == nil {
		t.Fatalf("alice fetches the bot's device: %v %v", devices, err)
	}
	if trust, err := mach.ResolveTrustContext(t.Context(), devices[bot][device]); err != nil || trust < id.TrustStateCrossSignedTOFU {
		t.Errorf("alice's client trusts the bot's device as %s (%v), want cross-signed by its owner", trust, err)
	}

	s.bridge.Stop()
	s.bridge = s.startBridge(t, s.cfg)
	if signed, err := s.bridge.Crypto.CrossSigned(t.Context()); err != nil || !signed {
		t.Errorf("not signed after a third start: %v %v", signed, err)
	}
	var again string
	if err := s.bridge.DB.QueryRow(t.Context(), `SELECT value FROM bridge_secret WHERE name='recovery_key'`).Scan(&again); err != nil || again != stored {
		t.Errorf("the recovery key changed on a start that had keys: %v", err)
	}
	if got := masterKeys(); got != master {
		t.Errorf("new cross-signing keys on a start that had them: %s, was %s", got, master)
	}
}

// encryption.require on a bridge whose customer room was created plain:
// the first thing posted after the restart switches the room to
// encryption, and from then on the homeserver holds only ciphertext.
func TestEncryptionRequire(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, configure: func(cfg *config.Config) {
		encryptedConfig(cfg)
		cfg.Encryption.Default = false
	}})
	bot, ghost := s.cfg.BotMXID(), s.cfg.GhostMXID("main")
	alice := newCryptoUser(t, s, "alice")
	agent := s.user(t, "agent") // no crypto: sees what the server stores
	room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli, agent)
	if _, err := alice.cli.SendText(t.Context(), room, "!stripe help"); err != nil {
		t.Fatal(err)
	}
	waitForReply(t, agent, room, bot, "!stripe") // plaintext: the room is

	s.bridge.Stop()
	s.cfg.Encryption.Require = true
	s.bridge = s.startBridge(t, s.cfg)
	if err := fake.PayInvoice("in_alice_open"); err != nil {
		t.Fatal(err)
	}
	alice.waitDecrypted(t, ghost, "25.00")
	alice.waitRoomReady(t, room, s.cfg.BotMXID())
	if _, err := alice.cli.SendText(t.Context(), room, "!stripe invoices"); err != nil {
		t.Fatal(err)
	}
	alice.waitDecrypted(t, bot, "in_alice")

	resp, err := agent.Messages(t.Context(), room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var after []string
	switched, plainBefore := false, 0
	for _, evt := range resp.Chunk { // newest first
		switch {
		case evt.Type == event.StateEncryption:
			switched = true
			if evt.Sender != bot {
				t.Errorf("encryption turned on by %s, want the bot", evt.Sender)
			}
		case evt.Type == event.EventMessage && !switched:
			after = append(after, string(evt.Sender))
		case evt.Type == event.EventMessage:
			plainBefore++
		}
	}
	if !switched || plainBefore == 0 {
		t.Fatalf("want a plain room switched to encryption: switched %v, %d plaintext messages before", switched, plainBefore)
	}
	if len(after) > 0 {
		t.Errorf("plaintext after the switch from %v", after)
	}
}

// The appservice mode on a homeserver that offers the extensions (Dendrite
// behind testenv.ASExtensions, standing in for a Synapse with MSC2409,
// MSC3202 and MSC4190 enabled): the bridge creates its device itself,
// never syncs, gets its room keys in transactions, and keeps the device
// across a restart.
func TestEncryptionAppserviceMode(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, asExtensions: true, configure: func(cfg *config.Config) {
		encryptedConfig(cfg)
		cfg.Encryption.Appservice = true
	}})
	bot, ghost := s.cfg.BotMXID(), s.cfg.GhostMXID("main")
	device := s.bridge.Crypto.DeviceID()
	if got := s.bridge.Crypto.Transport(t.Context()); got != e2ee.TransportTransactions {
		t.Fatalf("transport %q, want %q", got, e2ee.TransportTransactions)
	}
	if !s.bridge.Crypto.MSC4190() || !slices.Contains(s.ext.Devices(), device) {
		t.Fatalf("device %s was not created the MSC4190 way (created: %v)", device, s.ext.Devices())
	}
	alice := newCryptoUser(t, s, "alice")
	room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli)
	alice.waitRoomReady(t, room, bot)
	whole := t

	t.Run("room keys come in transactions", func(t *testing.T) {
		pushed := s.ext.PushedToDevice()
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe invoices"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, bot, "in_alice")
		if s.ext.PushedToDevice() <= pushed {
			t.Error("the answer came, but no to-device message was pushed in a transaction")
		}
		if n := s.ext.DeviceSyncs(); n != 0 {
			t.Errorf("the bridge synced as its device %d times", n)
		}
	})

	t.Run("a billing event from the ghost decrypts", func(t *testing.T) {
		if err := fake.PayInvoice("in_alice_open"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, ghost, "25.00")
	})

	t.Run("the device survives a restart", func(t *testing.T) {
		s.bridge.Stop()
		s.bridge = s.startBridge(whole, s.cfg)
		if got := s.bridge.Crypto.DeviceID(); got != device {
			t.Fatalf("device %s after the restart, want %s", got, device)
		}
		if got := s.bridge.Crypto.Transport(t.Context()); got != e2ee.TransportTransactions {
			t.Fatalf("transport %q after the restart", got)
		}
		// A new session of alice's: its key reaches the restarted bridge
		// in a transaction.
		if err := alice.cli.Crypto.(*cryptohelper.CryptoHelper).Machine().CryptoStore.RemoveOutboundGroupSession(t.Context(), room); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.cli.SendText(t.Context(), room, "!stripe balance"); err != nil {
			t.Fatal(err)
		}
		alice.waitDecrypted(t, bot, "balance")
		if len(s.ext.Devices()) != 1 || s.ext.DeviceSyncs() != 0 {
			t.Errorf("devices %v, device syncs %d after the restart", s.ext.Devices(), s.ext.DeviceSyncs())
		}
	})
}

// encryption.appservice on a homeserver without the extensions (plain
// Dendrite): the bridge notices, logs in as its device and syncs for its
// to-device messages, and encrypted rooms work as without the setting.
func TestEncryptionAppserviceFallback(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, configure: func(cfg *config.Config) {
		encryptedConfig(cfg)
		cfg.Encryption.Appservice = true
	}})
	if got := s.bridge.Crypto.Transport(t.Context()); got != e2ee.TransportSync {
		t.Fatalf("transport %q on plain Dendrite, want %q", got, e2ee.TransportSync)
	}
	if s.bridge.Crypto.MSC4190() {
		t.Fatal("plain Dendrite created the device the MSC4190 way")
	}
	alice := newCryptoUser(t, s, "alice")
	room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli)
	alice.waitRoomReady(t, room, s.cfg.BotMXID())
	if _, err := alice.cli.SendText(t.Context(), room, "!stripe invoices"); err != nil {
		t.Fatal(err)
	}
	alice.waitDecrypted(t, s.cfg.BotMXID(), "in_alice")
}

// Several processes on PostgreSQL, the registered address reaching the one
// without the device: it hands the encrypted event (and, in appservice
// mode, the device's to-device messages) over through the database, the
// process with the device decrypts and answers. When the holder stops,
// another process takes the same device over.
func TestEncryptionHandover(t *testing.T) {
	for _, mode := range []struct {
		name       string
		appservice bool
	}{{"sync", false}, {"appservice", true}} {
		t.Run(mode.name, func(t *testing.T) {
			fake := scenarioFake(t, encryptionScenario)
			s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t),
				asExtensions: mode.appservice, configure: func(cfg *config.Config) {
					encryptedConfig(cfg)
					cfg.Encryption.Appservice = mode.appservice
					cfg.Metrics = config.MetricsConfig{Enabled: true, Listen: "127.0.0.1:0"}
				}})
			s.takeoverEvery = 300 * time.Millisecond
			bot := s.cfg.BotMXID()
			device := s.bridge.Crypto.DeviceID()
			alice := newCryptoUser(t, s, "alice")
			room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli)
			alice.waitRoomReady(t, room, bot)

			// A second process, which the homeserver does not know, waits
			// for the device; the first stops and it takes the device over.
			second := s.startBridge(t, onFreePort(t, s.cfg))
			if second.Crypto.Holder() {
				t.Fatal("the second process holds the device while the first does")
			}
			s.bridge.Stop()
			waitFor(t, 30*time.Second, "the second process to take the device over", func() (bool, string) {
				return second.Crypto.Holder(), ""
			})
			if got := second.Crypto.DeviceID(); got != device {
				t.Fatalf("the second process took over device %s, want %s", got, device)
			}
			want := e2ee.TransportSync
			if mode.appservice {
				want = e2ee.TransportTransactions
			}
			// In appservice mode the second process's check of the
			// transactions reaches it only through the first: handed over.
			s.bridge = s.startBridge(t, s.cfg)
			if s.bridge.Crypto.Holder() {
				t.Fatal("the restarted first process holds the device too")
			}
			if got := second.Crypto.Transport(t.Context()); got != want {
				t.Fatalf("the second process gets to-device messages by %q, want %q", got, want)
			}

			// The homeserver's transactions reach the first process only.
			if _, err := alice.cli.SendText(t.Context(), room, "!stripe invoices"); err != nil {
				t.Fatal(err)
			}
			alice.waitDecrypted(t, bot, "in_alice")
			// The process without the device still reads the room's
			// history (web chat, transcripts) with the shared room keys.
			waitFor(t, 20*time.Second, "the first process to read the answer back", func() (bool, string) {
				resp, err := s.bridge.Bot.Messages(t.Context(), room, "", "", mautrix.DirectionBackward, nil, 100)
				if err != nil {
					return false, err.Error()
				}
				var seen []string
				for _, evt := range resp.Chunk {
					evt = e2ee.Readable(t.Context(), s.bridge.Bot.Client, evt)
					if evt.Type == event.EventMessage && evt.Sender == bot && strings.Contains(evt.Content.AsMessage().Body, "in_alice") {
						return true, ""
					}
					seen = append(seen, evt.Type.Type)
				}
				return false, strings.Join(seen, " ")
			})
			waitFor(t, 20*time.Second, "the hand-over table to empty", func() (bool, string) {
				var n int
				err := s.bridge.DB.QueryRow(t.Context(), `SELECT count(*) FROM crypto_handoff`).Scan(&n)
				return err == nil && n == 0, fmt.Sprint(n, err)
			})
			for _, w := range []struct {
				br     *bridge.Bridge
				family string
				labels map[string]string
				ok     func(float64) bool
			}{
				{second, "matrix_stripe_encryption_device_held", nil, func(v float64) bool { return v == 1 }},
				{s.bridge, "matrix_stripe_encryption_device_held", nil, func(v float64) bool { return v == 0 }},
				{s.bridge, "matrix_stripe_encryption_handed_over_total", map[string]string{"kind": "event"}, func(v float64) bool { return v >= 1 }},
			} {
				families, _, err := metricstest.Scrape(w.br.MetricsAddr())
				if err != nil {
					t.Fatal(err)
				}
				if got, present := metricstest.Value(families, w.family, w.labels); !present || !w.ok(got) {
					t.Errorf("%s%v = %v (present %t) on %s", w.family, w.labels, got, present, w.br.MetricsAddr())
				}
			}
		})
	}
}

// What works in plain rooms works in an encrypted one: the assistant's
// answer and its handoff mention, a refund confirmed with ✅ (the reaction
// stays unencrypted, as in Matrix) and one confirmed with `confirm`, the
// billing-portal link and its removal, the dashboard's transcript, and the
// web chat's history, read back from the homeserver and decrypted.
func TestEncryptedRoomWorkflows(t *testing.T) {
	fake := scenarioFake(t, stripefake.DemoScenario)
	s := startStack(t, stackOptions{fake: fake, configure: func(cfg *config.Config) {
		encryptedConfig(cfg)
		enableWebChat(cfg)
		enablePanel(cfg)
		cfg.Bridge.PortalLinkTTL = "10s"
	}})
	bot := s.cfg.BotMXID()
	bob := newCryptoUser(t, s, "bob")
	agent := newCryptoUser(t, s, "agent")
	if _, err := fake.Client().Customers.Update("cus_DemoBob", &stripe.CustomerParams{
		Metadata: map[string]string{"matrix_user_id": string(bob.cli.UserID)},
	}); err != nil {
		t.Fatal(err)
	}
	room := waitPortal(t, s, "cus_DemoBob").RoomID
	joinWhenInvited(t, bob.cli, room)
	joinWhenInvited(t, agent.cli, room)
	bob.waitRoomReady(t, room, bot)
	agent.waitRoomReady(t, room, bot)
	waitFor(t, 20*time.Second, "bob's client to see the agent joined", func() (bool, string) {
		return bob.cli.StateStore.IsInRoom(t.Context(), room, agent.cli.UserID), ""
	})

	t.Run("the assistant answers", func(t *testing.T) {
		if _, err := bob.cli.SendText(t.Context(), room, "why did my card get declined?"); err != nil {
			t.Fatal(err)
		}
		bob.waitDecrypted(t, bot, "insufficient funds")
	})

	t.Run("a handoff mentions the agents", func(t *testing.T) {
		if _, err := bob.cli.SendText(t.Context(), room, "hmm the thing from before, you know"); err != nil {
			t.Fatal(err)
		}
		mentionsAgent(t, agent.waitDecrypted(t, bot, "@agent:localhost"), agent.cli.UserID)
	})

	var charge string
	invoices := fake.Client().Invoices.List(&stripe.InvoiceListParams{Customer: stripe.String("cus_DemoBob"), Status: stripe.String("paid")})
	for invoices.Next() {
		if inv := invoices.Invoice(); inv.Charge != nil {
			charge = inv.Charge.ID
		}
	}
	if charge == "" {
		t.Fatalf("no paid charge of bob's: %v", invoices.Err())
	}

	t.Run("a refund confirmed with a reaction", func(t *testing.T) {
		if _, err := agent.cli.SendText(t.Context(), room, "!stripe refund "+charge+" 1.00"); err != nil {
			t.Fatal(err)
		}
		prompt := agent.waitDecrypted(t, bot, "React ✅")
		if _, err := agent.cli.SendReaction(t.Context(), room, prompt.ID, "✅"); err != nil {
			t.Fatal(err)
		}
		agent.waitDecrypted(t, bot, "Refunded $1.00")
	})

	t.Run("a refund confirmed with confirm", func(t *testing.T) {
		if _, err := agent.cli.SendText(t.Context(), room, "!stripe refund "+charge+" 2.00"); err != nil {
			t.Fatal(err)
		}
		agent.waitDecrypted(t, bot, "$2.00")
		if _, err := agent.cli.SendText(t.Context(), room, "!stripe confirm"); err != nil {
			t.Fatal(err)
		}
		agent.waitDecrypted(t, bot, "Refunded $2.00")
		if refunds := listRefunds(t, fake.Client(), charge); len(refunds) != 2 {
			t.Errorf("%d refunds of the charge, want 2", len(refunds))
		}
	})

	t.Run("the billing-portal link is removed", func(t *testing.T) {
		if _, err := bob.cli.SendText(t.Context(), room, "!stripe portal"); err != nil {
			t.Fatal(err)
		}
		link := bob.waitDecrypted(t, bot, "Open the billing portal")
		waitFor(t, 40*time.Second, "the link redacted", func() (bool, string) {
			evt, err := agent.cli.GetEvent(t.Context(), room, link.ID)
			return err == nil && evt.Unsigned.RedactedBecause != nil, fmt.Sprint(err)
		})
	})

	t.Run("the agent panel's widget is in the room, as plain state", func(t *testing.T) {
		waitFor(t, 60*time.Second, "the panel widget", func() (bool, string) {
			var widget map[string]any
			err := agent.cli.StateEvent(t.Context(), room, event.Type{Type: "im.vector.modular.widgets", Class: event.StateEventType}, portal.PanelWidgetID, &widget)
			return err == nil && widget["url"] != nil, fmt.Sprint(err)
		})
	})

	t.Run("the dashboard's transcript is readable", func(t *testing.T) {
		token := dashboardSession(t, s, agent.cli)
		path := "/dashboard/api/rooms/" + url.PathEscape(room.String()) + "/transcript.csv"
		waitFor(t, 20*time.Second, "the transcript with bob's question and the assistant's answer", func() (bool, string) {
			status, raw := dashboardGet(t, s.cfg.AppService.Address, path, token)
			text := string(raw)
			return status == http.StatusOK && strings.Contains(text, "why did my card get declined?") &&
				strings.Contains(text, "insufficient funds"), fmt.Sprint(status, " ", len(raw), " bytes")
		})
	})

	t.Run("the web chat's history is readable", func(t *testing.T) {
		customerID := webChatCustomer(t, fake)
		chat := signIn(t, s.cfg.AppService.Address, mintToken(t, customerID, 10*time.Minute))
		webRoom := waitPortal(t, s, customerID).RoomID
		if encrypted, _ := s.bridge.DB.StateStore.IsEncrypted(t.Context(), webRoom); !encrypted {
			t.Fatal("the web chat customer's room is not encrypted")
		}
		if code, apiErr := chat.call("POST", "messages", map[string]string{"txn_id": "enc-1", "body": "Hello from the web"}, nil); code != 200 {
			t.Fatalf("send: %d %v", code, apiErr)
		}
		var billing id.EventID
		waitFor(t, 30*time.Second, "the billing message and the customer's message in the history", func() (bool, string) {
			own := false
			for _, m := range chat.history() {
				if m.Sender.Kind == "billing" && strings.Contains(m.Text, "Your billing account is set up") {
					billing = m.ID
				}
				own = own || m.Text == "Hello from the web"
			}
			return billing != "" && own, fmt.Sprint(chat.history())
		})
		// An edit of the ghost's (as a happening's stragglers make), read
		// back through the homeserver's relations and decrypted.
		edit := &event.MessageEventContent{MsgType: event.MsgText, Body: "Your billing account is ready"}
		edit.SetEdit(billing)
		if _, err := s.bridge.Portal.Ghost("main").SendMessageEvent(t.Context(), webRoom, event.EventMessage, edit); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the edit in the history", func() (bool, string) {
			for _, m := range chat.history() {
				if m.ID == billing {
					return m.Edited && m.Text == "Your billing account is ready", m.Text
				}
			}
			return false, "the billing message is gone"
		})
	})
}

// The holder dies the way a power cut would (SIGKILL of the bridge
// binary): PostgreSQL ends its session and with it the device lock,
// another process takes the same device over, and an encrypted command
// that reaches a process without the device is still answered.
func TestEncryptionHolderKilled(t *testing.T) {
	fake := scenarioFake(t, encryptionScenario)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t), configure: encryptedConfig})
	bot := s.cfg.BotMXID()
	device := s.bridge.Crypto.DeviceID()
	alice := newCryptoUser(t, s, "alice")
	room := openCustomerRoom(t, s, fake, "cus_alice", alice.cli)
	alice.waitRoomReady(t, room, bot)

	// The registered address becomes a bridge binary's, holding the device.
	s.bridge.Stop()
	rig := &faultRig{cfg: s.cfg, bin: bridgeBinary(t), dir: s.dir}
	cfgPath := rig.writeConfig(t, s.cfg, "holder.yaml")
	holder := rig.spawn(t, cfgPath, s.cfg.AppService.Address, "holder")
	s.takeoverEvery = 300 * time.Millisecond
	standby := s.startBridge(t, onFreePort(t, s.cfg))
	if standby.Crypto.Holder() {
		t.Fatal("the in-process bridge holds the device while the binary runs")
	}

	holder.kill9(t)
	waitFor(t, 30*time.Second, "the other process to take the device over", func() (bool, string) {
		return standby.Crypto.Holder(), ""
	})
	if got := standby.Crypto.DeviceID(); got != device {
		t.Fatalf("took over device %s, want %s", got, device)
	}

	// The registered address is served again, by a process without the
	// device: it hands the command over.
	rig.spawn(t, cfgPath, s.cfg.AppService.Address, "restarted")
	if _, err := alice.cli.SendText(t.Context(), room, "!stripe invoices"); err != nil {
		t.Fatal(err)
	}
	alice.waitDecrypted(t, bot, "in_alice")
}
