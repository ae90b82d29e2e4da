package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// ErrTransient marks a delivery failure worth retrying (homeserver or Stripe
// unreachable, rate-limited, 5xx). Anything else is permanent: retrying a
// payload we cannot render would only fail again.
var ErrTransient = errors.New("transient delivery failure")

func transient(err error) error {
	if err == nil || isPermanentHTTP(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTransient, err)
}

// isPermanentHTTP: a 4xx from the homeserver (other than rate limiting) will
// not go away by itself.
func isPermanentHTTP(err error) bool {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		code := httpErr.Response.StatusCode
		return code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout
	}
	return false
}

// TxnID is the Matrix transaction id for posting one Stripe event as one
// sender. It is deterministic so that a crash between send and commit makes
// the retry a no-op on a homeserver that remembers it (Dendrite does not
// when the request was cut short: the marker look-up covers that); the
// sender is part of it because
// Dendrite scopes transaction ids per access token, which all ghosts share.
func TxnID(sender id.UserID, stripeEventID string) string {
	sum := sha256.Sum256([]byte(string(sender) + "\x00" + stripeEventID))
	return "mxstripe_" + hex.EncodeToString(sum[:16])
}

// FeedTxnID is the transaction id of an event's line in the account's feed
// room. It differs from TxnID because one event may be sent twice (the
// customer's message and the agents' line) and transaction ids are scoped per
// access token, not per room: with one id the second send would be taken for
// a retry of the first.
func FeedTxnID(sender id.UserID, stripeEventID string) string {
	return TxnID(sender, stripeEventID+"\x00feed")
}

// Result is what a delivery did.
type Result struct {
	// RoomID and MatrixEventID are the event's main message: the customer's
	// when there is one, else the feed line.
	RoomID        id.RoomID
	MatrixEventID id.EventID
	// Skipped: nothing was posted; SkipReason says why, for the inbox row.
	Skipped    bool
	SkipReason string
	// Messages are the message-map rows to store with the inbox outcome, in
	// the same commit: the customer message and the feed line, each when it
	// was posted and is about an object.
	Messages []*database.Message
	// Lead is set when the delivery was part of a happening (happening.go):
	// the inbox event whose customer message shows it. Members are the
	// inbox events this delivery covered, the claimed one first; each is
	// recorded as delivered into MatrixEventID (the happening's message,
	// or the edit that updated it).
	Lead    string
	Members []string
}

// Deliver posts one inbox event: the customer's message into their room
// (creating it if needed) and, when the event has agent-facing detail or no
// customer, a line into the account's feed room. Each post carries the
// event's marker (marker.go) and its own deterministic transaction id; an
// attempt whose outcome is unknown (row.OutcomeUnknown) first looks for the
// marker and records what it finds instead of sending again, because a
// homeserver may forget a transaction id cut short by a crash.
// The caller records Result.Messages and marks the inbox row, together.
func (m *Manager) Deliver(ctx context.Context, row *database.Event, opts RenderOptions) (*Result, error) {
	var evt stripe.Event
	if err := json.Unmarshal(row.Payload, &evt); err != nil {
		return nil, fmt.Errorf("payload is not a Stripe event: %w", err)
	}
	customerID := row.CustomerID
	if customerID == "" {
		var err error
		if customerID, err = m.resolveCustomer(ctx, row.AccountID, &evt); err != nil {
			return nil, err
		}
		if customerID != "" {
			// The caller's logger names the row's (empty) customer; each key
			// once per line, so add it only when it was resolved here.
			log := zerolog.Ctx(ctx).With().Str("resolved_customer_id", customerID).Logger()
			ctx = log.WithContext(ctx)
		}
	}

	// The customer's room exists (and follows their name and link) from
	// their first event on, even one that posts nothing there.
	var customerRoom id.RoomID
	if customerID != "" {
		cus := customerFromEvent(&evt)
		portal, err := m.EnsurePortal(ctx, row.AccountID, customerID, cus)
		if err != nil {
			return nil, err
		}
		if cus != nil && !cus.Deleted && (evt.Type == "customer.updated" || evt.Type == "customer.created") {
			if err = m.UpdateCustomer(ctx, portal, cus); err != nil {
				return nil, err
			}
		}
		if evt.Type == "customer.deleted" || m.unlinked(&evt) {
			if err = m.endWebChat(ctx, row.AccountID, customerID); err != nil {
				return nil, err
			}
		}
		customerRoom = portal.RoomID
	}

	if customerID != "" && row.HappeningKey != "" {
		res, err := m.deliverHappening(ctx, row, &evt, customerID, customerRoom, opts)
		if res != nil || err != nil {
			return res, err
		}
		// Nothing of the happening is for the customer yet: the event is
		// delivered alone, and a later one of the key starts it.
	}

	opts.NoCustomerRoom = customerID == ""
	rendering, err := Render(&evt, opts)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", evt.Type, err)
	}
	if rendering.Customer == nil && rendering.Feed == nil {
		return &Result{RoomID: customerRoom, Skipped: true, SkipReason: rendering.Why}, nil
	}
	ghost := m.Ghost(row.AccountID)
	res := &Result{}
	record := func(room id.RoomID, eventID id.EventID, rendered *Rendered) {
		if res.MatrixEventID == "" {
			res.RoomID, res.MatrixEventID = room, eventID
		}
		if rendered.ObjectID == "" {
			return
		}
		res.Messages = append(res.Messages, &database.Message{
			RoomID:         room,
			MatrixEventID:  eventID,
			StripeObjectID: rendered.ObjectID,
			StripeEventID:  row.ID,
			AccountID:      row.AccountID,
			CustomerID:     customerID,
			CreatedAt:      time.Now(),
		})
	}

	if rendering.Customer != nil {
		eventID, err := m.sendOnce(ctx, ghost, customerRoom, row, rendering.Customer, CopyCustomer, TxnID(ghost.UserID, row.ID))
		if err != nil {
			return nil, transient(fmt.Errorf("send: %w", err))
		}
		record(customerRoom, eventID, rendering.Customer)
	}
	if rendering.Feed != nil {
		feedRoom, eventID, err := m.sendFeed(ctx, ghost, row, rendering.Feed)
		switch {
		case err == nil:
			record(feedRoom, eventID, rendering.Feed)
		case res.MatrixEventID != "" && !errors.Is(err, ErrTransient):
			// The customer's message is out; a feed room that refuses the
			// line for good must not make the event fail (and be retried
			// by hand into a second customer message).
			zerolog.Ctx(ctx).Warn().Err(err).Msg("Failed to post the agents' line in the feed room; the customer's message is posted")
		default:
			// The retry finds the customer's message by its marker
			// (or its transaction id) instead of posting it again.
			return nil, err
		}
	}
	return res, nil
}

func (m *Manager) sendFeed(ctx context.Context, ghost *appservice.IntentAPI, row *database.Event, rendered *Rendered) (id.RoomID, id.EventID, error) {
	room, err := m.EnsureFeedRoom(ctx, row.AccountID)
	if err != nil {
		return "", "", err
	}
	eventID, err := m.sendOnce(ctx, ghost, room, row, rendered, CopyFeed, FeedTxnID(ghost.UserID, row.ID))
	if err != nil {
		return "", "", transient(fmt.Errorf("send to feed room: %w", err))
	}
	return room, eventID, nil
}

// customerFromEvent returns the customer object when the event is about one,
// so room creation needs no extra Stripe call.
func customerFromEvent(evt *stripe.Event) *stripe.Customer {
	if evt.Data == nil || len(evt.Data.Raw) == 0 || evt.GetObjectValue("object") != "customer" {
		return nil
	}
	var cus stripe.Customer
	if err := json.Unmarshal(evt.Data.Raw, &cus); err != nil || cus.ID == "" {
		return nil
	}
	return &cus
}

// resolveCustomer finds the customer of events whose object does not name
// one: disputes name their charge, and the charge names the customer.
//
// It is a fallback: events are resolved before they are queued
// (webhook.Resolver), so that they go through their customer's queue in
// order. A dispute that still arrives here customer-less was stored before
// that (inbox schema v4 and older): it is posted to its customer's room,
// but outside the customer's queue.
func (m *Manager) resolveCustomer(ctx context.Context, alias string, evt *stripe.Event) (string, error) {
	if evt.Data == nil || evt.GetObjectValue("object") != "dispute" {
		return "", nil
	}
	chargeID := evt.GetObjectValue("charge")
	if chargeID == "" {
		var nested struct {
			Charge struct {
				ID string `json:"id"`
			} `json:"charge"`
		}
		_ = json.Unmarshal(evt.Data.Raw, &nested)
		chargeID = nested.Charge.ID
	}
	reader := m.Stripe[alias]
	if chargeID == "" || reader == nil {
		return "", nil
	}
	charge, err := reader.Charge(ctx, chargeID)
	if err != nil {
		if stripeapi.IsNotFound(err) {
			return "", nil
		}
		return "", transient(fmt.Errorf("fetch charge %s for dispute: %w", chargeID, err))
	}
	if charge.Customer != nil {
		return charge.Customer.ID, nil
	}
	return "", nil
}

// unlinked reports whether a customer update removed the customer's Matrix
// link (the link key's metadata), which also ends their web chat sessions:
// the merchant says the person is no longer this customer.
func (m *Manager) unlinked(evt *stripe.Event) bool {
	if evt.Type != "customer.updated" || evt.Data == nil {
		return false
	}
	before, ok := evt.Data.PreviousAttributes["metadata"].(map[string]any)
	if !ok {
		return false
	}
	key := m.Config.Bridge.CustomerLinkKey
	old, had := before[key].(string)
	if !had || old == "" {
		return false
	}
	now, _ := evt.Data.Object["metadata"].(map[string]any)
	current, _ := now[key].(string)
	return current == ""
}

// endWebChat ends a customer's web chat sessions; their widgets are told
// within a minute (webchat's session check).
func (m *Manager) endWebChat(ctx context.Context, alias, customerID string) error {
	n, err := m.DB.WebChat.EndSessions(ctx, alias, customerID, time.Now())
	if err != nil {
		return transient(fmt.Errorf("end web chat sessions: %w", err))
	}
	if n > 0 {
		zerolog.Ctx(ctx).Info().Int64("sessions", n).Msg("Ended the customer's web chat sessions")
	}
	return nil
}
