package portal

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
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
}

// findMarked looks in the room for the ghost's message marked with the
// Stripe event and copy, sent no earlier than since (zero: no time bound),
// and returns its event id, or "" if the room does not hold it within the
// bounds above.
func findMarked(ctx context.Context, cli *mautrix.Client, room id.RoomID, stripeEventID string, copy Copy, since time.Time) (id.EventID, lookupStats, error) {
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
		older := false
		for _, evt := range resp.Chunk {
			stats.events++
			if evt.Sender == cli.UserID && evt.Type == event.EventMessage {
				if gotEvent, gotCopy := MarkerOf(evt); gotEvent == stripeEventID && gotCopy == copy {
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
func sendOnce(ctx context.Context, ghost *appservice.IntentAPI, room id.RoomID, row *database.Event, rendered *Rendered, copy Copy, txnID string) (id.EventID, error) {
	if row.OutcomeUnknown() {
		if err := ghost.EnsureJoined(ctx, room); err != nil {
			return "", transient(fmt.Errorf("join before looking for an earlier send: %w", err))
		}
		found, stats, err := findMarked(ctx, ghost.Client, room, row.ID, copy, row.FirstClaimedAt)
		log := zerolog.Ctx(ctx).With().Str("room_id", room.String()).Str("copy", string(copy)).
			Int("pages", stats.pages).Int("events_read", stats.events).Dur("took", stats.took).Logger()
		if err != nil {
			return "", err
		}
		if found != "" {
			log.Info().Str("matrix_event_id", found.String()).Msg("An earlier attempt posted this event; recording it instead of sending again")
			return found, nil
		}
		if stats.stoppedBy == "event limit" {
			log.Warn().Msg("Looked for an earlier send as far back as allowed without finding it; sending")
		} else {
			log.Debug().Str("stopped_by", stats.stoppedBy).Msg("No earlier send in the room; sending")
		}
	}
	resp, err := ghost.SendMessageEvent(ctx, room, event.EventMessage, markedContent(rendered, row.ID, copy),
		mautrix.ReqSendEvent{TransactionID: txnID})
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}
