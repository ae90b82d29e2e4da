package e2ee

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Transport is how the device's to-device messages, device lists and key
// counts reach it.
type Transport string

const (
	// TransportSync: the device's own /sync.
	TransportSync Transport = "sync"
	// TransportTransactions: appservice transactions (MSC2409, MSC3202).
	TransportTransactions Transport = "transactions"
)

// probeEventType is the to-device message the device sends itself to learn
// whether transactions carry its to-device messages.
var probeEventType = event.Type{Type: "com.github.matrix_stripe.transaction_probe", Class: event.ToDeviceEventType}

const defaultProbeWait = 10 * time.Second

// createDevice makes the device the MSC4190 way when the homeserver allows
// it: the appservice creates it and acts as it with its own token (MSC3202
// masquerading), so the bot needs no login and no access token of the
// device. Synapse advertises neither extension, so they are tried: a
// homeserver that refuses the creation, or ignores the masquerade (acts as
// some other device of the bot), gets the appservice login instead (which
// fails loudly if the homeserver is unreachable). An error is returned only
// when the crypto store cannot be read.
func (d *Device) createDevice(ctx context.Context, client *mautrix.Client, store *crypto.SQLCryptoStore) (bool, error) {
	log := d.opts.Log.With().Str("component", "crypto").Logger()
	stored, err := store.FindDeviceID(ctx)
	if err != nil {
		return false, err
	}
	err = client.CreateDeviceMSC4190(ctx, stored, d.opts.DeviceName)
	if err != nil {
		log.Info().Err(err).Msg("The homeserver does not create appservice devices (MSC4190); the bot logs in as its device")
		return false, nil
	}
	who, err := client.Whoami(ctx)
	if err != nil || who.DeviceID != client.DeviceID {
		log.Warn().Err(err).Str("device_id", client.DeviceID.String()).Str("acting_device_id", whoDevice(who).String()).
			Msg("The homeserver created the bot's device (MSC4190) but does not let the bridge act as it (MSC3202 device masquerading); the bot logs in as its device")
		client.DeviceID, client.SetAppServiceDeviceID = "", false
		return false, nil
	}
	store.DeviceID = client.DeviceID
	return true, nil
}

func whoDevice(who *mautrix.RespWhoami) id.DeviceID {
	if who == nil {
		return ""
	}
	return who.DeviceID
}

// transactionsCarryToDevice sends the device a to-device message of its
// own and waits for it in a transaction. Nothing is lost while it waits:
// what the homeserver does not push stays in the device's inbox for the
// /sync that follows a failed check.
func (d *Device) transactionsCarryToDevice(ctx context.Context) bool {
	log := d.opts.Log.With().Str("component", "crypto").Logger()
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	want := hex.EncodeToString(nonce)
	bot, device := d.client.UserID, d.client.DeviceID
	_, err := d.client.SendToDevice(ctx, probeEventType, &mautrix.ReqSendToDevice{
		Messages: map[id.UserID]map[id.DeviceID]*event.Content{bot: {device: {Raw: map[string]any{"nonce": want}}}},
	})
	if err != nil {
		if ctx.Err() == nil {
			log.Warn().Err(err).Msg("Could not check whether transactions carry to-device messages; the bot's device syncs for them")
		}
		return false
	}
	wait := d.opts.ProbeWait
	if wait <= 0 {
		wait = defaultProbeWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case got := <-d.probe:
			if got == want {
				log.Info().Msg("The homeserver pushes the device's to-device messages and device lists in transactions (MSC2409, MSC3202)")
				return true
			}
		case <-timer.C:
			log.Warn().Dur("waited", wait).
				Msg("The homeserver does not push to-device messages to the bridge (MSC2409 is off or not implemented); the bot's device syncs for them")
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (d *Device) handleProbe(ctx context.Context, evt *event.Event) {
	if !d.held.Load() {
		// The holder's check, delivered to this process: handed over like
		// any to-device message, so the check sees what the device would.
		if d.handoff != nil {
			d.handoff.put(ctx, kindToDevice, evt)
		}
		return
	}
	if evt.Sender != d.client.UserID || (evt.ToDeviceID != "" && evt.ToDeviceID != d.client.DeviceID) {
		return
	}
	nonce, _ := evt.Content.Raw["nonce"].(string)
	select {
	case d.probe <- nonce:
	default:
	}
}

func (d *Device) decide(t Transport) {
	d.transport = t
	close(d.decided)
}

// Transport waits until Start has decided how the device's to-device
// messages arrive and says which; "" for no device, a stopped one, or ctx
// ending first (a standby decides once it has taken the device over).
func (d *Device) Transport(ctx context.Context) Transport {
	if !d.enabled {
		return ""
	}
	select {
	case <-d.decided:
		return d.transport
	case <-d.done:
		return ""
	case <-ctx.Done():
		return ""
	}
}

// MSC4190 says whether the device was created by the appservice (MSC4190)
// rather than by a login.
func (d *Device) MSC4190() bool { return d.msc4190 }
