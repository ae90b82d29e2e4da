// Package e2ee gives the bridge one encryption device: the bot logs in as a
// real device (appservice login, or MSC4190 device creation where the
// homeserver offers it), receives its to-device messages, device lists and
// key counts through that device's own /sync (room data filtered out: room
// events keep arriving in appservice transactions) or, where the homeserver
// pushes them (MSC2409/MSC3202), in the transactions themselves, decrypts
// the encrypted events of those transactions and encrypts what the bot and
// the ghosts send into encrypted rooms. One process holds the device; the
// others hand it the encrypted work that reaches them, through the
// database, and take it over when it goes. Without the device nothing is
// ever sent in plaintext into an encrypted room.
package e2ee

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	// DB holds the crypto store's tables beside the bridge's; DBURI is its
	// connection string, for the hand-over's notifications (PostgreSQL).
	DB        *dbutil.Database
	DBURI     string
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
	// TakeoverEvery is how often a process without the device tries to
	// take it over (default 10 s): when the holder stops or dies, another
	// process carries on with the same device.
	TakeoverEvery time.Duration
	// Held is told when this process gets the device and when it lets it
	// go; HandedOver about each piece of work handed to the holder (both
	// for the metrics; either may be nil).
	Held       func(bool)
	HandedOver func(kind string)
	Log        zerolog.Logger
}

// Device is the bridge's encryption device as one process sees it: held
// and working here, held by another process (then encrypted work that
// reaches this one is handed over through the database, and this process
// takes the device over when the holder goes), or absent because
// encryption is off (None). It is the crypto of every intent: sends into
// encrypted rooms are encrypted with the device, or refused without it.
type Device struct {
	opts    Options
	enabled bool

	// held is set once this process holds the device and has loaded it.
	held atomic.Bool
	// Written by init before held is set, and by no one after: read them
	// only once held says so.
	client *mautrix.Client
	helper *cryptohelper.CryptoHelper
	lock   *deviceLock

	stop context.CancelFunc
	done chan struct{}

	// msc4190: the device was created by the appservice and is acted as
	// with the appservice token. transport is decided once Start has
	// checked the transactions (decided is closed then).
	msc4190   bool
	transport Transport
	decided   chan struct{}
	probe     chan string

	handoff *handoff

	readerMu   sync.Mutex
	readerMach *crypto.OlmMachine
}

// Open takes the device lock, logs the bot in as its device (the same one
// every start: its id is in the crypto store) and loads or creates its
// keys. When another process holds the device, the Device returned is a
// standby (Holder false): Start then hands encrypted work over and takes
// the device over when it comes free.
func Open(ctx context.Context, opts Options) (*Device, error) {
	if opts.PickleKey == "" {
		return nil, errors.New("encryption.pickle_key is empty (matrix-stripe -g generates one)")
	}
	d := &Device{opts: opts, enabled: true, decided: make(chan struct{}), probe: make(chan string, 4)}
	if opts.DB.Dialect == dbutil.Postgres {
		d.handoff = &handoff{db: opts.DB, log: opts.Log.With().Str("component", "crypto_handoff").Logger(), counted: opts.HandedOver}
	}
	lock, err := takeLock(ctx, opts.DB)
	if errors.Is(err, ErrLocked) {
		return d, nil
	} else if err != nil {
		return nil, err
	}
	d.lock = lock
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
	d.held.Store(true)
	if d.opts.Held != nil {
		d.opts.Held(true)
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

// None is the absence of a device: encryption is off. Sends into
// encrypted rooms are refused.
func None() *Device { return &Device{} }

// Holder says whether this process holds the device and has loaded it.
func (d *Device) Holder() bool { return d.held.Load() }

// toDeviceTypes are the to-device messages the device acts on, as mautrix
// lists them for appservice transactions.
var toDeviceTypes = []event.Type{
	event.ToDeviceEncrypted, event.ToDeviceRoomKeyRequest, event.ToDeviceRoomKeyWithheld,
	event.ToDeviceBeeperRoomKeyAck, event.ToDeviceOrgMatrixRoomKeyWithheld,
	event.ToDeviceVerificationRequest, event.ToDeviceVerificationStart, event.ToDeviceVerificationAccept,
	event.ToDeviceVerificationKey, event.ToDeviceVerificationMAC, event.ToDeviceVerificationCancel,
}

// Start registers the encrypted work of transactions (handled here when
// this process holds the device, handed over otherwise), takes the device
// over when a standby can, and runs the device's /sync until Stop, unless
// (with Appservice) the transactions turn out to carry the device's
// to-device messages.
func (d *Device) Start() {
	if !d.enabled {
		return
	}
	d.opts.Events.On(event.EventEncrypted, d.onRoomEvent)
	d.opts.Events.On(event.StateMember, d.onRoomEvent)
	d.opts.Events.On(event.StateHistoryVisibility, d.onRoomEvent)
	if d.opts.Appservice {
		for _, t := range toDeviceTypes {
			d.opts.Events.On(t, d.onToDevice)
		}
		d.opts.Events.OnOTK(d.onOTK)
		d.opts.Events.OnDeviceList(d.onDeviceList)
		d.opts.Events.On(probeEventType, d.handleProbe)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stop, d.done = cancel, make(chan struct{})
	go func() {
		defer close(d.done)
		if !d.Holder() && !d.takeOver(ctx) {
			return
		}
		if d.handoff != nil {
			d.handoff.workers.Add(1)
			go func() {
				defer d.handoff.workers.Done()
				d.handoff.drain(ctx, d.opts.DBURI, d)
			}()
		}
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

// takeOver waits for the device lock and loads the device, until ctx ends.
func (d *Device) takeOver(ctx context.Context) bool {
	log := d.opts.Log.With().Str("component", "crypto").Logger()
	every := d.opts.TakeoverEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(every):
		}
		lock, err := takeLock(ctx, d.opts.DB)
		if errors.Is(err, ErrLocked) {
			continue
		} else if err != nil {
			log.Warn().Err(err).Msg("Could not try to take the encryption device over")
			continue
		}
		d.lock = lock
		if err := d.init(ctx); err != nil {
			log.Err(err).Msg("Could not take the encryption device over; trying again")
			d.lock.release()
			continue
		}
		log.Info().Msg("This process took the encryption device over")
		return true
	}
}

func (d *Device) onRoomEvent(ctx context.Context, evt *event.Event) {
	if d.held.Load() {
		switch evt.Type {
		case event.EventEncrypted:
			d.helper.HandleEncrypted(ctx, evt)
		case event.StateMember:
			d.helper.Machine().HandleMemberEvent(ctx, evt)
		case event.StateHistoryVisibility:
			d.helper.Machine().HandleHistoryVisibility(ctx, evt)
		}
		return
	}
	if d.handoff == nil {
		return
	}
	if evt.Type != event.EventEncrypted {
		// Membership matters to the device only in encrypted rooms, where
		// it decides who gets the room's keys.
		if encrypted, _ := d.opts.AS.StateStore.IsEncrypted(ctx, evt.RoomID); !encrypted {
			return
		}
	}
	d.handoff.put(ctx, kindEvent, evt)
}

func (d *Device) onToDevice(ctx context.Context, evt *event.Event) {
	if d.held.Load() {
		d.helper.Machine().HandleToDeviceEvent(ctx, evt)
	} else if d.handoff != nil {
		d.handoff.put(ctx, kindToDevice, evt)
	}
}

func (d *Device) onOTK(ctx context.Context, otk *mautrix.OTKCount) {
	if d.held.Load() {
		d.helper.Machine().HandleOTKCounts(ctx, otk)
	} else if d.handoff != nil {
		d.handoff.put(ctx, kindOTKCount, otkCount{Count: *otk, UserID: otk.UserID, DeviceID: otk.DeviceID})
	}
}

func (d *Device) onDeviceList(ctx context.Context, lists *mautrix.DeviceLists, since string) {
	if d.held.Load() {
		d.helper.Machine().HandleDeviceLists(ctx, lists, since)
	} else if d.handoff != nil {
		d.handoff.put(ctx, kindDeviceLists, lists)
	}
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
	if d.stop == nil {
		return
	}
	d.stop()
	if d.held.Load() {
		d.client.StopSync()
	}
	<-d.done
	if d.handoff != nil {
		// Work half-done stays in the table for the next holder.
		d.handoff.workers.Wait()
	}
	if d.held.Load() {
		_ = d.helper.Close()
		d.lock.release()
		if d.opts.Held != nil {
			d.opts.Held(false)
		}
	}
}

// DeviceID is the bot's device, "" in a process without it.
func (d *Device) DeviceID() id.DeviceID {
	if d.held.Load() {
		return d.client.DeviceID
	}
	return ""
}

// Bind makes intent encrypt what it sends into encrypted rooms with the
// device, or refuse to send there while this process does not hold it.
// Call it for every intent before its first send.
func (d *Device) Bind(intent *appservice.IntentAPI) *appservice.IntentAPI {
	if intent != nil {
		intent.Client.Crypto = d
	}
	return intent
}

// The Device is mautrix's crypto for the intents bound to it: mautrix asks
// it only for rooms whose state says they are encrypted.

func (d *Device) Encrypt(ctx context.Context, room id.RoomID, evtType event.Type, content any) (*event.EncryptedEventContent, error) {
	if d.held.Load() {
		return d.helper.Encrypt(ctx, room, evtType, content)
	}
	return nil, ErrNoDevice
}

func (d *Device) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	if d.held.Load() {
		return d.helper.Decrypt(ctx, evt)
	}
	if r := d.reader(ctx); r != nil {
		return r.DecryptMegolmEvent(ctx, evt)
	}
	return nil, ErrNoDevice
}

// reader is how a process without the device reads encrypted history (the
// web chat's, the dashboard's transcripts): the room keys are in the
// shared database, and decrypting a room message with one changes no key.
// It never touches the device's Olm account or sessions, uploads nothing
// and fetches no keys, so it cannot disturb the holder's device; it only
// records the message index it read, as the holder does (replay check).
func (d *Device) reader(ctx context.Context) *crypto.OlmMachine {
	if !d.enabled {
		return nil
	}
	d.readerMu.Lock()
	defer d.readerMu.Unlock()
	if d.readerMach != nil {
		return d.readerMach
	}
	log := d.opts.Log.With().Str("component", "crypto_reader").Logger()
	bot := d.opts.AS.BotMXID()
	store := crypto.NewSQLCryptoStore(d.opts.DB, dbutil.ZeroLogger(log.With().Str("db_section", "crypto").Logger()),
		bot.String(), "", []byte(d.opts.PickleKey))
	device, err := store.FindDeviceID(ctx)
	if err != nil || device == "" {
		// The holder has not created the device yet: asked again next time.
		return nil
	}
	store.DeviceID = device
	stateStore, ok := d.opts.AS.StateStore.(crypto.StateStore)
	if !ok {
		return nil
	}
	client := d.opts.AS.NewMautrixClient(bot)
	client.DeviceID = device
	mach := crypto.NewOlmMachine(client, &log, store, stateStore)
	// No key fetches and no ratchet bookkeeping: either would write rows
	// the holder writes too.
	mach.DisableDecryptKeyFetching = true
	mach.DisableRatchetTracking = true
	if err := mach.Load(ctx); err != nil {
		log.Warn().Err(err).Msg("Could not load the encryption device's keys to read encrypted history")
		return nil
	}
	d.readerMach = mach
	return mach
}

func (d *Device) WaitForSession(ctx context.Context, room id.RoomID, senderKey id.SenderKey, session id.SessionID, timeout time.Duration) bool {
	if d.held.Load() {
		return d.helper.WaitForSession(ctx, room, senderKey, session, timeout)
	}
	return false
}

func (d *Device) RequestSession(ctx context.Context, room id.RoomID, senderKey id.SenderKey, session id.SessionID, user id.UserID, device id.DeviceID) {
	if d.held.Load() {
		d.helper.RequestSession(ctx, room, senderKey, session, user, device)
	}
}

// Init is part of mautrix's crypto interface; Open did the work.
func (d *Device) Init(context.Context) error { return nil }

// Readable is evt decrypted, for events read back from the homeserver
// (history, look-ups, another process's announcements), which come as the
// homeserver stores them: ciphertext in encrypted rooms. Events that
// arrive in transactions are decrypted on arrival and need none of this.
// An event that is not encrypted, or that cli's crypto cannot decrypt (a
// key that never came, encryption off), is returned as it is, still
// m.room.encrypted, for the caller to pass over. A process without the
// device decrypts with the shared room keys (Device.Decrypt).
func Readable(ctx context.Context, cli *mautrix.Client, evt *event.Event) *event.Event {
	if evt == nil || evt.Type != event.EventEncrypted || cli == nil || cli.Crypto == nil {
		return evt
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return evt
	}
	decrypted, err := cli.Crypto.Decrypt(ctx, evt)
	if err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Str("matrix_event_id", evt.ID.String()).Msg("Could not decrypt an event read from the homeserver")
		return evt
	}
	return decrypted
}
