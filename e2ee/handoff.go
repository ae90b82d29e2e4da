package e2ee

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/pgnotify"
)

// The kinds of encrypted work a process without the device hands over.
const (
	kindEvent       = "event"
	kindToDevice    = "to_device"
	kindDeviceLists = "device_lists"
	kindOTKCount    = "otk_count"
)

// handoffChannel tells the holder that work is waiting.
const handoffChannel = "matrix_stripe_crypto"

// drainEvery catches work whose notification was lost (a LISTEN
// connection that dropped, a holder that was still starting).
const drainEvery = 5 * time.Second

// handoff is the crypto_handoff table (PostgreSQL only: on SQLite the one
// process always holds the device). The homeserver delivers a transaction
// to whichever process its address reaches; what in it needs the device —
// encrypted events, membership in encrypted rooms, and in appservice mode
// the device's to-device messages, device lists and key counts — is kept
// here by a process without the device until the holder has handled it.
type handoff struct {
	db  *dbutil.Database
	log zerolog.Logger

	// workers is the drain; Stop waits for it.
	workers sync.WaitGroup
	// counted is Options.HandedOver.
	counted func(kind string)
}

func (h *handoff) put(ctx context.Context, kind string, v any) {
	payload, err := json.Marshal(v)
	if err == nil {
		_, err = h.db.Exec(ctx, `INSERT INTO crypto_handoff (kind, payload, received_at) VALUES ($1, $2, $3)`,
			kind, string(payload), time.Now().UnixMilli())
	}
	if err != nil {
		// Keys or messages that never reach the device: said loudly.
		h.log.Err(err).Str("kind", kind).Msg("Could not hand encrypted work to the process with the encryption device")
		return
	}
	h.log.Debug().Str("kind", kind).Msg("Handed encrypted work to the process with the encryption device")
	if h.counted != nil {
		h.counted(kind)
	}
	if err := pgnotify.Announce(ctx, h.db, handoffChannel, kind); err != nil {
		h.log.Warn().Err(err).Msg("Could not notify the process with the encryption device; it will find the work within seconds")
	}
}

// drain handles the waiting work in the holder until ctx ends: at start,
// on each notification and every few seconds.
func (h *handoff) drain(ctx context.Context, uri string, d *Device) {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go pgnotify.Listen(ctx, uri, handoffChannel, "encryption hand-over", h.log, func(string) { poke() }, poke)
	ticker := time.NewTicker(drainEvery)
	defer ticker.Stop()
	for {
		for h.drainOnce(ctx, d) == drainBatch {
			// More is waiting: the next batch at once.
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-ticker.C:
		}
	}
}

// otkCount is a key count as handed over: mautrix keeps the device it is
// for out of its JSON.
type otkCount struct {
	Count    mautrix.OTKCount `json:"count"`
	UserID   id.UserID        `json:"user_id"`
	DeviceID id.DeviceID      `json:"device_id"`
}

type handoffRow struct {
	id      int64
	kind    string
	payload string
}

// drainBatch is how many rows one read takes; a full batch is followed by
// the next at once.
const drainBatch = 500

// drainOnce handles one batch and says how many rows it read.
func (h *handoff) drainOnce(ctx context.Context, d *Device) int {
	rows, err := h.db.Query(ctx, `SELECT id, kind, payload FROM crypto_handoff ORDER BY id LIMIT $1`, drainBatch)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn().Err(err).Msg("Could not read the encrypted work other processes handed over")
		}
		return 0
	}
	var batch []handoffRow
	for rows.Next() {
		var r handoffRow
		if err := rows.Scan(&r.id, &r.kind, &r.payload); err != nil {
			h.log.Warn().Err(err).Msg("Could not read the encrypted work other processes handed over")
			break
		}
		batch = append(batch, r)
	}
	_ = rows.Close()
	for _, r := range batch {
		if ctx.Err() != nil {
			return 0
		}
		// In order: a room key handed over before its message is in the
		// store when the message is handled. An event whose key is not
		// there yet is waited for by mautrix in the background, as one
		// that came in a transaction would be.
		h.handle(ctx, d, r)
	}
	return len(batch)
}

// handle runs one piece of work through the device and then deletes it: a
// holder that dies half-way leaves it for the next one (duplicates are
// harmless: events are deduplicated by id), and a payload this version
// cannot read is logged and dropped rather than retried forever.
func (h *handoff) handle(ctx context.Context, d *Device, r handoffRow) {
	if !d.held.Load() {
		return
	}
	log := h.log.With().Int64("handoff_id", r.id).Str("kind", r.kind).Logger()
	ctx = log.WithContext(ctx)
	var err error
	switch r.kind {
	case kindEvent, kindToDevice:
		var evt event.Event
		if err = json.Unmarshal([]byte(r.payload), &evt); err != nil {
			break
		}
		if r.kind == kindToDevice {
			evt.Type.Class = event.ToDeviceEventType
			evt.Mautrix.EventSource = event.SourceToDevice
		} else if evt.StateKey != nil {
			evt.Type.Class = event.StateEventType
			evt.Mautrix.EventSource = event.SourceTimeline
		} else {
			evt.Type.Class = event.MessageEventType
			evt.Mautrix.EventSource = event.SourceTimeline
		}
		if perr := evt.Content.ParseRaw(evt.Type); perr != nil && evt.Type != probeEventType {
			log.Debug().Err(perr).Msg("Handed-over event content not parsed")
		}
		evt.Mautrix.ReceivedAt = time.Now()
		switch {
		case r.kind == kindEvent:
			d.onRoomEvent(ctx, &evt)
		case evt.Type == probeEventType:
			d.handleProbe(ctx, &evt)
		default:
			d.helper.Machine().HandleToDeviceEvent(ctx, &evt)
		}
	case kindDeviceLists:
		var lists mautrix.DeviceLists
		if err = json.Unmarshal([]byte(r.payload), &lists); err == nil {
			d.helper.Machine().HandleDeviceLists(ctx, &lists, "")
		}
	case kindOTKCount:
		var otk otkCount
		if err = json.Unmarshal([]byte(r.payload), &otk); err == nil {
			otk.Count.UserID, otk.Count.DeviceID = otk.UserID, otk.DeviceID
			d.helper.Machine().HandleOTKCounts(ctx, &otk.Count)
		}
	default:
		log.Warn().Msg("Dropping handed-over work of a kind this version does not know")
	}
	if err != nil {
		log.Warn().Err(err).Msg("Dropping handed-over work that cannot be read")
	}
	if ctx.Err() != nil {
		// Stopped half-way: the next holder does it again.
		return
	}
	if _, err := h.db.Exec(context.WithoutCancel(ctx), `DELETE FROM crypto_handoff WHERE id = $1`, r.id); err != nil {
		log.Warn().Err(err).Msg("Could not delete handed-over work; it will be handled again")
	}
}
