package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/e2ee"
	"github.com/matrix-stripe/matrix-stripe/internal/logctx"
)

// ErrEncryption: the encryption device could not be opened.
var ErrEncryption = errors.New("encryption error")

// openCrypto gives the process its encryption device: held here, held by
// another process (this one hands encrypted work over and takes the device
// over when it comes free), or none with encryption off. Either way every
// intent is bound to it, so nothing is sent in plaintext into an encrypted
// room.
func (br *Bridge) openCrypto(ctx context.Context) error {
	br.Crypto = e2ee.None()
	if br.Config.Encryption.Allow {
		dev, err := e2ee.Open(ctx, e2ee.Options{
			AS:            br.AS,
			Events:        br.Events,
			DB:            br.DB.Database,
			DBURI:         br.Config.Database.URI,
			PickleKey:     br.Config.Encryption.PickleKey,
			DeviceName:    "matrix-stripe bridge",
			SelfSign:      br.Config.Encryption.SelfSign,
			BotPassword:   br.Config.Encryption.BotPassword,
			Dispatch:      br.Events.Dispatch,
			Undecryptable: br.reportUndecryptable,
			Appservice:    br.Config.Encryption.Appservice,
			TakeoverEvery: br.CryptoTakeoverEvery,
			Held:          br.Metrics.EncryptionHeld,
			HandedOver:    br.Metrics.EncryptionHandedOver,
			Log:           br.Log,
		})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrEncryption, err)
		}
		if !dev.Holder() {
			br.Log.Warn().Msg("Another bridge process holds the encryption device; this one hands encrypted work to it and takes the device over if that process stops")
		}
		br.Crypto = dev
		dev.Start()
	}
	br.bindIntent(br.Bot)
	return nil
}

// bindIntent is the portal's and the web chat's hook for the intents they
// send as (and the bot's): encrypted rooms get ciphertext or nothing, and
// with encryption.require a customer room is switched to encryption before
// anything is posted in it.
func (br *Bridge) bindIntent(intent *appservice.IntentAPI) *appservice.IntentAPI {
	br.Crypto.Bind(intent)
	if _, done := intent.Client.StateStore.(*requireStore); br.Config.Encryption.Require && !done {
		intent.Client.StateStore = &requireStore{StateStore: intent.Client.StateStore, br: br}
	}
	return intent
}

// requireStore is the state store of an intent under encryption.require.
// mautrix asks it whether a room is encrypted right before every message it
// sends, which makes it the one place no send path can go around: a
// customer room that is not encrypted yet is switched on first, and if
// that fails the send fails rather than go out in plaintext.
type requireStore struct {
	mautrix.StateStore
	br *Bridge
}

func (s *requireStore) IsEncrypted(ctx context.Context, roomID id.RoomID) (bool, error) {
	encrypted, err := s.StateStore.IsEncrypted(ctx, roomID)
	if err != nil || encrypted {
		return encrypted, err
	}
	portal, err := s.br.DB.Portal.GetByRoom(ctx, roomID)
	if err != nil || portal == nil {
		return false, err
	}
	content := &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}
	if _, err := s.br.Bot.SendStateEvent(ctx, roomID, event.StateEncryption, "", content); err != nil {
		return false, fmt.Errorf("turn on encryption before posting (encryption.require): %w", err)
	}
	// Recorded now, not when the homeserver's transaction brings it back:
	// the send that asked is about to go out.
	if err := s.StateStore.SetEncryptionEvent(ctx, roomID, content); err != nil {
		return false, fmt.Errorf("record the room's encryption: %w", err)
	}
	logctx.Logger(ctx, "room_id", roomID.String()).Info().Msg("Turned on encryption in a customer room (encryption.require)")
	return true, nil
}

// reportUndecryptable tells the room that a message could not be read, so
// the sender (and the agents) know to send it again: the keys never came,
// even after asking the sender's devices for them.
func (br *Bridge) reportUndecryptable(ctx context.Context, evt *event.Event, err error) {
	log := zerolog.Ctx(ctx).With().Str("room_id", evt.RoomID.String()).Str("matrix_event_id", evt.ID.String()).
		Str("sender", evt.Sender.String()).Logger()
	log.Warn().Err(err).Msg("Could not decrypt a message")
	br.Metrics.Undecryptable()
	if br.isBridgeUser(evt.Sender) || time.Since(time.UnixMilli(evt.Timestamp)) > time.Hour {
		// Our own ghosts' events are not questions; an old one is history
		// a new device cannot read, not a message waiting for an answer.
		return
	}
	content := &event.MessageEventContent{
		MsgType:  event.MsgNotice,
		Body:     fmt.Sprintf("I could not decrypt a message from %s (its keys never reached me). Please send it again.", evt.Sender),
		Mentions: &event.Mentions{},
	}
	// ctx, not log's context: mautrix tags the room on its own lines.
	if _, err := br.Bot.SendMessageEvent(ctx, evt.RoomID, event.EventMessage, content, mautrix.ReqSendEvent{}); err != nil {
		log.Err(err).Msg("Failed to report an undecryptable message")
	}
}
