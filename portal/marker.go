package portal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/e2ee"
)

// Every billing message carries the Stripe event it shows in its content,
// under namespaced keys that clients do not display. A deterministic
// transaction id is not enough to send exactly once: Dendrite v0.13.8 stores
// a transaction id only after the send completes and forgets it when the
// client disconnects mid-request, so a send cut short by a crash and retried
// with the same id posts twice. The marker lets a retry see what the room
// already holds.
const (
	// MarkerEventKey holds the Stripe event id (evt_…).
	MarkerEventKey = "com.matrix-stripe.stripe_event_id"
	// MarkerCopyKey says which copy of the event the message is: one event
	// may be posted twice, in the customer's room and in the feed room.
	MarkerCopyKey = "com.matrix-stripe.copy"
)

// Copy is which of an event's posts a message is.
type Copy string

const (
	CopyCustomer Copy = "customer"
	CopyFeed     Copy = "feed"
)

// The look-up reads the room backwards, newest first, and stops at the
// first of: the marker; an event older than the event's first claim (less
// the clock slack between bridge and homeserver), since nothing of the event
// can have been posted before it was claimed; the start of the room;
// lookupMaxEvents events.
//
// It reads without a server-side filter: Dendrite v0.13.8 applies a
// /messages filter after taking the page's `limit` events, and ends the
// pagination (no `end` token) at a page the filter empties — so a filter by
// sender would stop at 100 messages from the customer and agents and miss
// the ghost's message behind them. The sender is checked here instead.
const (
	// lookupPage is the largest page Dendrite serves.
	lookupPage = 100
	// lookupMaxEvents bounds the cost when clocks or history are odd: about
	// a minute of a busy feed room at Dendrite's ~100 sends per second.
	lookupMaxEvents = 5000
	// lookupClockSlack allows for the homeserver's clock (origin_server_ts)
	// being behind the bridge's (first_claimed_at).
	lookupClockSlack = 30 * time.Second
)

// markedContent is the rendered message with the marker of its event and
// copy. The rendered content is not modified.
func markedContent(rendered *Rendered, stripeEventID string, copy Copy) *event.Content {
	return &event.Content{
		Parsed: rendered.Content,
		Raw:    map[string]any{MarkerEventKey: stripeEventID, MarkerCopyKey: string(copy)},
	}
}

// MarkerOf returns the Stripe event id and copy a Matrix event's content is
// marked with ("" if none).
func MarkerOf(evt *event.Event) (stripeEventID string, copy Copy) {
	stripeEventID, _ = evt.Content.Raw[MarkerEventKey].(string)
	copyName, _ := evt.Content.Raw[MarkerCopyKey].(string)
	return stripeEventID, Copy(copyName)
}

// lookupStats is what one look-up cost, for the log.
type lookupStats struct {
	pages, events int
	took          time.Duration
	stoppedBy     string
	// sawSyncPoint: the look-up read past the sync point it was given.
	sawSyncPoint bool
}

// findMarked looks in the room for the ghost's message marked with the
// Stripe event and copy, sent no earlier than since (zero: no time bound),
// and returns its event id, or "" if the room does not hold it within the
// bounds above.
func findMarked(ctx context.Context, cli *mautrix.Client, room id.RoomID, stripeEventID string, copy Copy, since time.Time) (id.EventID, lookupStats, error) {
	return findMarkedBehind(ctx, cli, room, stripeEventID, copy, since, "")
}

// findMarkedBehind is findMarked that also reports whether the room's
// history as read contained syncPoint (stats.sawSyncPoint).
func findMarkedBehind(ctx context.Context, cli *mautrix.Client, room id.RoomID, stripeEventID string, copy Copy, since time.Time, syncPoint id.EventID) (id.EventID, lookupStats, error) {
	start := time.Now()
	var stats lookupStats
	var cutoff int64
	if !since.IsZero() {
		cutoff = since.Add(-lookupClockSlack).UnixMilli()
	}
	from := ""
	for {
		resp, err := cli.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, lookupPage)
		if err != nil {
			stats.took = time.Since(start)
			return "", stats, transient(fmt.Errorf("look for an earlier send: %w", err))
		}
		stats.pages++
		if stats.pages == 1 && len(resp.Chunk) == 0 {
			// Every room holds at least its creation. Dendrite answers an
			// empty page, not an error, when its history-visibility check
			// fails; "nothing here" would then post a second copy.
			stats.took = time.Since(start)
			return "", stats, transient(fmt.Errorf("look for an earlier send: the homeserver returned no events for %s", room))
		}
		older := false
		for _, evt := range resp.Chunk {
			stats.events++
			if syncPoint != "" && evt.ID == syncPoint {
				stats.sawSyncPoint = true
			}
			if evt.Sender == cli.UserID {
				// In an encrypted room the marker is inside the ciphertext.
				evt = e2ee.Readable(ctx, cli, evt)
				if gotEvent, gotCopy := MarkerOf(evt); evt.Type == event.EventMessage && gotEvent == stripeEventID && gotCopy == copy {
					stats.took, stats.stoppedBy = time.Since(start), "found"
					return evt.ID, stats, nil
				}
			}
			if cutoff != 0 && evt.Timestamp < cutoff {
				older = true
			}
		}
		switch {
		case older:
			stats.stoppedBy = "before first claim"
		case resp.End == "" || len(resp.Chunk) == 0:
			stats.stoppedBy = "start of room"
		case stats.events >= lookupMaxEvents:
			stats.stoppedBy = "event limit"
		default:
			from = resp.End
			continue
		}
		stats.took = time.Since(start)
		return "", stats, nil
	}
}

// sendOnce posts one copy of an inbox event into room, unless an earlier
// attempt whose outcome is unknown already did: then it returns that
// message. A first attempt sends at once; only a retry pays for the look-up.
func (m *Manager) sendOnce(ctx context.Context, ghost *appservice.IntentAPI, room id.RoomID, row *database.Event, rendered *Rendered, copy Copy, txnID string) (id.EventID, error) {
	if row.OutcomeUnknown() {
		found, err := lookBeforeResend(ctx, ghost, room, row, copy)
		if err != nil || found != "" {
			return found, err
		}
	}
	release, err := m.sendSlot(ctx)
	if err != nil {
		return "", err
	}
	resp, err := ghost.SendMessageEvent(ctx, room, event.EventMessage, markedContent(rendered, row.ID, copy),
		mautrix.ReqSendEvent{TransactionID: txnID})
	release()
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// A look-up right after a crash can run while the crashed attempt's send is
// still inside the homeserver. Dendrite v0.13.8 queues a send into its
// roomserver before it waits for it; when the client goes, the handler
// gives up waiting (it even logs "failed to queue: context canceled") but
// the queued event is stored moments later — after a look-up that found
// nothing, so the retry posted a second copy (seen in the kill -9 test:
// the first copy's timestamp 160 ms before the second's, the look-up
// between them). Nor does Dendrite's 200 mean /messages shows the event:
// the sync API that serves it reads the roomserver's output queue later.
//
// So when the first look finds nothing, the ghost sends a sync point into
// the room and looks again once /messages shows it. Dendrite sends one
// user's events into one room one at a time (a lock per user and room
// around the whole request), its roomserver stores a room's events in the
// order they were queued, and the sync API consumes them in that order: a
// send the crashed attempt queued is stored before the sync point, and in
// /messages once the sync point is.
const (
	// syncPointType is a state event, so the room's state keeps one per
	// ghost (the last) rather than one per look-up; Element hides state
	// events of types it does not know.
	syncPointType = "com.matrix-stripe.lookup"
	// syncPointWait bounds the wait for /messages to show the sync point.
	// Dendrite shows it within a second or so; a homeserver (or test
	// double) that never lists state events in /messages is looked up
	// without it after this long, as before sync points, with a warning.
	syncPointWait = 5 * time.Second
	syncPointPoll = 100 * time.Millisecond
)

var syncPointEventType = event.Type{Type: syncPointType, Class: event.StateEventType}

// lookBeforeResend returns the message an earlier attempt posted of this
// copy of the event, or "" if there is none and none can still appear.
func lookBeforeResend(ctx context.Context, ghost *appservice.IntentAPI, room id.RoomID, row *database.Event, copy Copy) (id.EventID, error) {
	if err := ghost.EnsureJoined(ctx, room); err != nil {
		return "", transient(fmt.Errorf("join before looking for an earlier send: %w", err))
	}
	logFor := func(stats lookupStats) zerolog.Logger {
		return zerolog.Ctx(ctx).With().Str("room_id", room.String()).Str("copy", string(copy)).
			Int("pages", stats.pages).Int("events_read", stats.events).Dur("took", stats.took).Logger()
	}
	found, stats, err := findMarked(ctx, ghost.Client, room, row.ID, copy, row.FirstClaimedAt)
	if err != nil || found != "" {
		if found != "" {
			log := logFor(stats)
			log.Info().Str("matrix_event_id", found.String()).Msg("An earlier attempt posted this event; recording it instead of sending again")
		}
		return found, err
	}

	start := time.Now()
	syncPoint, err := ghost.SendStateEvent(ctx, room, syncPointEventType, ghost.UserID.String(), map[string]any{
		// The nonce makes each sync point a new event: a state event whose
		// content equals the current one is not sent at all. A string,
		// as canonical JSON refuses integers past 2^53.
		MarkerEventKey: row.ID, MarkerCopyKey: string(copy), "attempt": row.Attempts, "nonce": strconv.FormatUint(rand.Uint64(), 36),
	})
	switch {
	case err != nil && isPermanentHTTP(err):
		// A room that refuses it (power levels changed by hand) must not
		// stop delivery for good: send after the one look, as before.
		log := logFor(stats)
		log.Warn().Err(err).Msg("The room refused the sync point; sending after one look")
		return "", nil
	case err != nil:
		return "", transient(fmt.Errorf("send a sync point before looking again: %w", err))
	}
	looks := 0
	for {
		looks++
		found, stats, err = findMarkedBehind(ctx, ghost.Client, room, row.ID, copy, row.FirstClaimedAt, syncPoint.EventID)
		if err != nil {
			return "", err
		}
		log := logFor(stats).With().Str("sync_point_id", syncPoint.EventID.String()).Int("looks", looks).
			Dur("since_sync_point", time.Since(start)).Logger()
		switch {
		case found != "":
			log.Info().Str("matrix_event_id", found.String()).
				Msg("An earlier attempt's send reached the room after the first look; recording it instead of sending again")
			return found, nil
		case stats.sawSyncPoint || time.Since(start) >= syncPointWait:
			if !stats.sawSyncPoint {
				log.Warn().Msg("The room's history did not show the sync point in time; looked without it")
			}
			if stats.stoppedBy == "event limit" {
				log.Warn().Msg("Looked for an earlier send as far back as allowed without finding it; sending")
			} else {
				log.Debug().Str("stopped_by", stats.stoppedBy).Msg("No earlier send in the room; sending")
			}
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", transient(context.Cause(ctx))
		case <-time.After(syncPointPoll):
		}
	}
}
