// Package e2ee gives the bridge one encryption device: the bot logs in as a
// real device (appservice login, or MSC4190 device creation where the
// homeserver offers it), receives its to-device messages, device lists and
// key counts through that device's own /sync (room data filtered out: room
// events keep arriving in appservice transactions) or, where the homeserver
// pushes them (MSC2409/MSC3202), in the transactions themselves, decrypts
// the encrypted events of those transactions and encrypts what the bot and
// the ghosts send into encrypted rooms. Without a device, or in a process
// that does not hold it, nothing is ever sent in plaintext into an
// encrypted room.
package e2ee

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// ErrNoDevice is why a send into an encrypted room was refused: this
// process has no encryption device (encryption is off, or another process
// holds the device). Delivery retries it; the process with the device
// picks it up.
var ErrNoDevice = errors.New("this process cannot encrypt: the room is encrypted and the bridge's encryption device is not here")

// Options configure the device.
type Options struct {
	AS     *appservice.AppService
	Events *appservice.EventProcessor
	// DB holds the crypto store's tables beside the bridge's.
	DB        *dbutil.Database
	PickleKey string
	// DeviceName is what clients show for the bot's device.
	DeviceName string
	// Dispatch hands a decrypted event to the bridge's handlers.
	Dispatch func(ctx context.Context, evt *event.Event)
	// SelfSign cross-signs the device (selfsign.go); BotPassword answers
	// the homeserver's password check for the key upload.
	SelfSign    bool
	BotPassword string
	// Undecryptable is told about an event whose keys never came.
	Undecryptable func(ctx context.Context, evt *event.Event, err error)
	// Appservice uses the homeserver's appservice extensions where it
	// offers them (appservice.go); ProbeWait bounds the check that
	// transactions carry to-device messages (default 10 s).
	Appservice bool
	ProbeWait  time.Duration
	Log        zerolog.Logger
}

// Device is the bridge's encryption device, or its absence (None): then
// intents bound to it refuse to send into encrypted rooms.
type Device struct {
	opts   Options
	client *mautrix.Client
	helper *cryptohelper.CryptoHelper
	lock   *deviceLock

	stopSync context.CancelFunc
	syncDone chan struct{}

	// msc4190: the device was created by the appservice and is acted as
	// with the appservice token. transport is decided once Start has
	// checked the transactions (decided is closed then).
	msc4190   bool
	transport Transport
	decided   chan struct{}
	probe     chan string

	mu    sync.Mutex
	bound map[id.UserID]bool
}

// Open takes the device lock, logs the bot in as its device (the same one
// every start: its id is in the crypto store) and loads or creates its
// keys. It returns ErrLocked when another process holds the device.
func Open(ctx context.Context, opts Options) (*Device, error) {
	if opts.PickleKey == "" {
		return nil, errors.New("encryption.pickle_key is empty (matrix-stripe -g generates one)")
	}
	lock, err := takeLock(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	d := &Device{opts: opts, lock: lock, bound: map[id.UserID]bool{}, decided: make(chan struct{}), probe: make(chan string, 4)}
	if err := d.init(ctx); err != nil {
		lock.release()
		return nil, err
	}
	return d, nil
}

func (d *Device) init(ctx context.Context) error {
	log := d.opts.Log.With().Str("component", "crypto").Logger()
	bot := d.opts.AS.BotMXID()
	// A client of its own: the login replaces its token with the device's,
	// and the bot intent must keep the appservice token.
	client := d.opts.AS.NewMautrixClient(bot)
	client.SetAppServiceUserID = false
	// Untagged: the crypto helper tags its logger from the client's with
	// component=crypto itself, and a second tag would repeat the key.
	client.Log = d.opts.Log
	syncer := &deviceSyncer{DefaultSyncer: mautrix.NewDefaultSyncer()}
	syncer.FilterJSON = toDeviceOnly()
	syncer.ParseEventContent = true
	client.Syncer = syncer
	client.Store = mautrix.NewMemorySyncStore()

	store := crypto.NewSQLCryptoStore(d.opts.DB, dbutil.ZeroLogger(log.With().Str("db_section", "crypto").Logger()),
		bot.String(), "", []byte(d.opts.PickleKey))
	if err := store.DB.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade crypto store: %w", err)
	}
	helper, err := cryptohelper.NewCryptoHelper(client, []byte(d.opts.PickleKey), store)
	if err != nil {
		return err
	}
	helper.LoginAs = &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypeAppservice,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(bot)},
		InitialDeviceDisplayName: d.opts.DeviceName,
	}
	if d.opts.Appservice {
		if d.msc4190, err = d.createDevice(ctx, client, store); err != nil {
			return err
		}
		if d.msc4190 {
			// The device exists and the client acts as it: nothing to log
			// in to.
			helper.LoginAs = nil
		}
	}
	helper.CustomPostDecrypt = d.opts.Dispatch
	helper.DecryptErrorCallback = func(evt *event.Event, err error) {
		if d.opts.Undecryptable != nil {
			d.opts.Undecryptable(log.WithContext(context.Background()), evt, err)
		}
	}
	if err := helper.Init(ctx); err != nil {
		return fmt.Errorf("encryption device: %w", err)
	}
	// Customers' devices are rarely verified; a bridge that shares keys
	// only with verified devices would be unreadable to them.
	helper.Machine().SendKeysMinTrust = id.TrustStateUnset
	helper.Machine().ShareKeysMinTrust = id.TrustStateUnset
	d.client, d.helper = client, helper
	signed := false
	if d.opts.SelfSign {
		// An unsigned device still encrypts and decrypts; clients only
		// show it unverified. So the bridge runs on, and says what to fix.
		if err := d.selfSign(ctx); err != nil {
			log.Error().Err(err).Msg("The bot's device is not cross-signed")
		} else {
			signed = true
		}
	}
	if d.opts.Appservice {
		helper.Machine().AddAppserviceListener(d.opts.Events)
		d.opts.Events.On(probeEventType, d.handleProbe)
	}
	log.Info().Str("device_id", client.DeviceID.String()).Bool("cross_signed", signed).Bool("msc4190", d.msc4190).
		Msg("Encryption device ready")
	return nil
}

// toDeviceOnly is the device's /sync filter: room events come by
// appservice transaction, so only to-device messages, device lists and key
// counts are wanted here.
func toDeviceOnly() *mautrix.Filter {
	none := []event.Type{{Type: "*"}}
	return &mautrix.Filter{
		Presence:    &mautrix.FilterPart{NotTypes: none},
		AccountData: &mautrix.FilterPart{NotTypes: none},
		Room: &mautrix.RoomFilter{
			Ephemeral:   &mautrix.FilterPart{NotTypes: none},
			AccountData: &mautrix.FilterPart{NotTypes: none},
			State:       &mautrix.FilterPart{NotTypes: none},
			Timeline:    &mautrix.FilterPart{NotTypes: none},
		},
	}
}

// deviceSyncer is the device's syncer: it keeps the to-device messages,
// device lists and key counts of a /sync and drops its room data. The
// filter asks for none, but Dendrite sends room timelines all the same;
// handled here too, every encrypted event would be decrypted (and, without
// its keys, reported) twice: once from the transaction, once from /sync.
type deviceSyncer struct {
	*mautrix.DefaultSyncer
}

func (s *deviceSyncer) ProcessResponse(ctx context.Context, resp *mautrix.RespSync, since string) error {
	resp.Rooms = mautrix.RespSyncRooms{}
	// The transaction check's message, when the homeserver did not push
	// it: its purpose is served, and mautrix would warn it cannot parse it.
	resp.ToDevice.Events = slices.DeleteFunc(resp.ToDevice.Events, func(evt *event.Event) bool {
		return evt.Type.Type == probeEventType.Type
	})
	// A response already received is handled to the end even when Stop
	// cancels the sync: cut half-way, a key upload fails and logs an
	// error on a clean shutdown. Bounded, so a hung request cannot hold
	// the shutdown.
	handleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), responseHandlingLimit)
	defer cancel()
	return s.DefaultSyncer.ProcessResponse(handleCtx, resp, since)
}

// responseHandlingLimit bounds the handling of one /sync response (to-device
// messages, device lists, a one-time-key upload).
const responseHandlingLimit = 30 * time.Second

// None is the absence of a device: encryption is off, or another process
// holds it.
func None() *Device { return &Device{bound: map[id.UserID]bool{}} }

// Start registers the decryption of transaction events and runs the
// device's /sync until Stop, unless (with Appservice) the transactions turn
// out to carry the device's to-device messages.
func (d *Device) Start() {
	if d.helper == nil {
		return
	}
	d.opts.Events.On(event.EventEncrypted, d.helper.HandleEncrypted)
	d.opts.Events.On(event.StateMember, d.helper.Machine().HandleMemberEvent)
	d.opts.Events.On(event.StateHistoryVisibility, d.helper.Machine().HandleHistoryVisibility)
	ctx, cancel := context.WithCancel(context.Background())
	d.stopSync, d.syncDone = cancel, make(chan struct{})
	go func() {
		defer close(d.syncDone)
		if d.opts.Appservice && d.transactionsCarryToDevice(ctx) {
			d.decide(TransportTransactions)
			<-ctx.Done()
			return
		}
		if ctx.Err() != nil {
			return
		}
		d.decide(TransportSync)
		d.runSync(ctx)
	}()
}

func (d *Device) runSync(ctx context.Context) {
	log := d.opts.Log.With().Str("component", "crypto_sync").Logger()
	// mautrix logs a canceled request as a warning; the long poll that
	// Stop cancels is the one cancellation that is expected.
	quiet := log.Hook(zerolog.HookFunc(func(e *zerolog.Event, _ zerolog.Level, msg string) {
		if msg == "Request canceled" && ctx.Err() != nil {
			e.Discard()
		}
	}))
	for ctx.Err() == nil {
		err := d.client.SyncWithContext(quiet.WithContext(ctx))
		if ctx.Err() != nil {
			log.Debug().Msg("The encryption device's sync stopped")
			return
		}
		log.Warn().Err(err).Msg("The encryption device's sync stopped; restarting in 5 s")
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// Stop ends the sync and releases the device for another process.
func (d *Device) Stop() {
	if d.helper == nil {
		return
	}
	if d.stopSync != nil {
		d.client.StopSync()
		d.stopSync()
		<-d.syncDone
	}
	_ = d.helper.Close()
	d.lock.release()
}

// DeviceID is the bot's device.
func (d *Device) DeviceID() id.DeviceID {
	if d.helper == nil {
		return ""
	}
	return d.client.DeviceID
}

// Bind makes intent encrypt what it sends into encrypted rooms with this
// device, or refuse to send there without one. Call it for every intent
// before its first send.
func (d *Device) Bind(intent *appservice.IntentAPI) *appservice.IntentAPI {
	if intent == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.bound[intent.UserID] {
		d.bound[intent.UserID] = true
		if d.helper != nil {
			intent.Client.Crypto = d.helper
		} else {
			intent.Client.Crypto = refuser{}
		}
	}
	return intent
}

// refuser is the crypto of a process without the device: mautrix asks it
// only for rooms whose state says they are encrypted, and it says no.
type refuser struct{}

func (refuser) Encrypt(context.Context, id.RoomID, event.Type, any) (*event.EncryptedEventContent, error) {
	return nil, ErrNoDevice
}
func (refuser) Decrypt(context.Context, *event.Event) (*event.Event, error) { return nil, ErrNoDevice }
func (refuser) WaitForSession(context.Context, id.RoomID, id.SenderKey, id.SessionID, time.Duration) bool {
	return false
}
func (refuser) RequestSession(context.Context, id.RoomID, id.SenderKey, id.SessionID, id.UserID, id.DeviceID) {
}
func (refuser) Init(context.Context) error { return nil }
