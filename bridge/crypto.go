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

	"github.com/matrix-stripe/matrix-stripe/e2ee"
)

// ErrEncryption: the encryption device could not be opened.
var ErrEncryption = errors.New("encryption error")

// openCrypto gives the process its encryption device, or none: with
// encryption off, or while another process holds the device. Either way
// every intent is bound to it, so nothing is sent in plaintext into an
// encrypted room.
func (br *Bridge) openCrypto(ctx context.Context) error {
	br.Crypto = e2ee.None()
	if br.Config.Encryption.Allow {
		dev, err := e2ee.Open(ctx, e2ee.Options{
			AS:            br.AS,
			Events:        br.Events,
			DB:            br.DB.Database,
			PickleKey:     br.Config.Encryption.PickleKey,
			DeviceName:    "matrix-stripe bridge",
			Dispatch:      br.Events.Dispatch,
			Undecryptable: br.reportUndecryptable,
			Log:           br.Log,
		})
		switch {
		case errors.Is(err, e2ee.ErrLocked):
			br.Log.Warn().Msg("Another bridge process holds the encryption device; this one leaves encrypted rooms to it")
		case err != nil:
			return fmt.Errorf("%w: %w", ErrEncryption, err)
		default:
			br.Crypto = dev
			dev.Start()
		}
	}
	br.Crypto.Bind(br.Bot)
	return nil
}

// bindIntent is the portal's and the web chat's hook for the intents they
// send as.
func (br *Bridge) bindIntent(intent *appservice.IntentAPI) *appservice.IntentAPI {
	return br.Crypto.Bind(intent)
}

// reportUndecryptable tells the room that a message could not be read, so
// the sender (and the agents) know to send it again: the keys never came,
// even after asking the sender's devices for them.
func (br *Bridge) reportUndecryptable(ctx context.Context, evt *event.Event, err error) {
	log := zerolog.Ctx(ctx).With().Str("room_id", evt.RoomID.String()).Str("matrix_event_id", evt.ID.String()).
		Str("sender", evt.Sender.String()).Logger()
	log.Warn().Err(err).Msg("Could not decrypt a message")
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
	if _, err := br.Bot.SendMessageEvent(log.WithContext(ctx), evt.RoomID, event.EventMessage, content, mautrix.ReqSendEvent{}); err != nil {
		log.Err(err).Msg("Failed to report an undecryptable message")
	}
}
